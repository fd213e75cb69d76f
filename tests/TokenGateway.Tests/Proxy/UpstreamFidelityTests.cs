using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Options;
using OpenAI.Chat;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Proxy;

/// <summary>
/// What the upstream sees of a request sent through the gateway with the official SDK: nothing that tells it from a
/// well-behaved client of its own (its Host and SNI, the provider's key, organization and project, no hop headers).
/// </summary>
public sealed class UpstreamFidelityTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private GatewayHost _gw = null!;

    public async Task InitializeAsync() => _gw = await GatewayHost.StartAsync(redis);

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private static string NewAccount() => "acct-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Forwarding_OverHttps_SendsTheUpstreamsOwnHostAndSni()
    {
        var key = await _gw.FundedKeyAsync(NewAccount());

        await _gw.OpenAI(key).GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")]);

        var seen = _gw.Upstream.Requests.Last();
        Assert.True(seen.IsHttps);
        Assert.Equal(new Uri(_gw.Upstream.BaseUrl).Authority, seen.Host);
        Assert.StartsWith("localhost:", seen.Host);
        Assert.Equal("localhost", seen.Sni);
        Assert.Equal("Bearer " + GatewayHost.UpstreamKey, seen.Authorization);
    }

    [Fact]
    public async Task Forwarding_ReplacesTheClientsOrganizationAndProject_WithTheConfiguredOnes()
    {
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string>
        {
            ["Upstream:Organization"] = "org-gateway",
            ["Upstream:Project"] = "proj_gateway",
        });
        var key = await gw.FundedKeyAsync(NewAccount());

        await gw.OpenAI(key, configure: ClientOrganization).GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")]);

        var seen = gw.Upstream.Requests.Last();
        Assert.Equal("org-gateway", seen.Headers["OpenAI-Organization"]);
        Assert.Equal("proj_gateway", seen.Headers["OpenAI-Project"]);
    }

    [Fact]
    public async Task Forwarding_WithoutOrganizationOrProjectSettings_RemovesTheClients()
    {
        var key = await _gw.FundedKeyAsync(NewAccount());

        await _gw.OpenAI(key, configure: ClientOrganization).GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")]);

        var seen = _gw.Upstream.Requests.Last();
        Assert.False(seen.Headers.ContainsKey("OpenAI-Organization"));
        Assert.False(seen.Headers.ContainsKey("OpenAI-Project"));
    }

    [Fact]
    public async Task Forwarding_DropsHopByHopAndForwardingHeaders_AndKeepsTheOthers()
    {
        var key = await _gw.FundedKeyAsync(NewAccount());
        var policy = new AddHeadersPolicy(
            ("Connection", "x-secret-hop"), ("x-secret-hop", "1"), ("Keep-Alive", "timeout=5"),
            ("Proxy-Authorization", "Basic cHJveHk6c2VjcmV0"), ("Proxy-Trace", "1"), ("TE", "trailers"),
            ("Forwarded", "for=203.0.113.9"), ("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Host", "gateway.internal"),
            ("X-Real-IP", "203.0.113.9"), ("x-client-trace", "keep-me"));

        await _gw.OpenAI(key, configure: o => o.AddPolicy(policy, PipelinePosition.PerCall))
            .GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")]);

        var seen = _gw.Upstream.Requests.Last();
        foreach (var name in new[] { "Connection", "x-secret-hop", "Keep-Alive", "Proxy-Authorization", "Proxy-Trace", "TE", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP" })
            Assert.False(seen.Headers.ContainsKey(name), $"{name} reached the upstream");
        Assert.Equal("keep-me", seen.Headers["x-client-trace"]);
    }

    [Fact]
    public async Task MockUpstream_GivenTheGatewaysHost_Answers421()
    {
        // What the upstream would have answered had the gateway forwarded its client's Host.
        using var client = MockUpstreamClient.Create(_gw.Upstream);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } }),
        };
        request.Headers.Host = new Uri(_gw.BaseUrl).Authority;

        using var r = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.MisdirectedRequest, r.StatusCode);
        var error = (await r.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("error");
        Assert.Equal("misdirected_request", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Gateway_WithoutTheCaFile_DoesNotTrustTheUpstream_AndAnswers502()
    {
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Upstream:CaCertificateFile"] = "" });
        var key = await gw.FundedKeyAsync(NewAccount());

        using var r = await gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.BadGateway, r.StatusCode);
        Assert.Empty(gw.Upstream.Requests);
    }

    [Fact]
    public async Task Gateway_WithAnInvalidCaFile_RefusesToStart_WithAMessageNamingTheSetting()
    {
        var notACertificate = Path.GetTempFileName();
        var badPem = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(notACertificate, "just text\n");
            await File.WriteAllTextAsync(badPem, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
            foreach (var file in new[] { "/nonexistent/ca.pem", notACertificate, badPem })
            {
                var e = await Assert.ThrowsAsync<OptionsValidationException>(() =>
                    GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Upstream:CaCertificateFile"] = file }));
                Assert.Contains("TokenGateway:Upstream:CaCertificateFile", e.Message);
            }
        }
        finally
        {
            File.Delete(notACertificate);
            File.Delete(badPem);
        }
    }

    private static void ClientOrganization(OpenAI.OpenAIClientOptions options)
    {
        options.OrganizationId = "org-client";
        options.ProjectId = "proj_client";
    }

    /// <summary>Headers the SDK has no option for, set on every request.</summary>
    private sealed class AddHeadersPolicy(params (string Name, string Value)[] headers) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Add(message);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Add(message);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }

        private void Add(PipelineMessage message)
        {
            foreach (var (name, value) in headers) message.Request.Headers.Set(name, value);
        }
    }
}
