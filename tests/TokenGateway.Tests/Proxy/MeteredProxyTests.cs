using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenAI.Chat;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Proxy;

/// <summary>The official OpenAI .NET SDK, pointed at a real gateway in front of a mock upstream.</summary>
public sealed class MeteredProxyTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _gw = await GatewayHost.StartAsync(redis);
        // 1234 prompt tokens of which 1000 cached, 567 output: every price of the formula counts.
        _gw.Upstream.Options.PromptTokens = 1234;
        _gw.Upstream.Options.CachedTokens = 1000;
        _gw.Upstream.Options.CompletionTokens = 567;
    }

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private static string NewAccount() => "acct-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task ChatCompletion_WithSdk_DebitsExactFormula()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account, 10m);

        ChatCompletion completion = await _gw.OpenAI(key).GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("Say hello")]);

        Assert.Equal("w0 w1 w2", string.Join(' ', completion.Content[0].Text.Split(' ').Take(3)));
        Assert.Equal(567, completion.Usage.OutputTokenCount);
        // gpt-4o-mini: (1234-1000)*0.15 + 1000*0.075 + 567*0.60 = 35.1 + 75 + 340.2 = 450.3 → 451 micro-USD
        Assert.Equal(10_000_000 - 451, await _gw.BalanceMicrosAsync(account));
        Assert.Equal(0, await _gw.HeldMicrosAsync(account));
    }

    [Fact]
    public async Task Embeddings_WithSdk_DebitsExactFormula()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account, 10m);

        var embedding = await _gw.OpenAI(key).GetEmbeddingClient("text-embedding-3-small").GenerateEmbeddingAsync("hello world");

        Assert.Equal(4, embedding.Value.ToFloats().Length);
        // text-embedding-3-small: input 0.02, no cached price → cached billed at input: 1234*0.02 = 24.68 → 25
        Assert.Equal(10_000_000 - 25, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task Responses_NonStreaming_DebitsExactFormula()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account, 10m);

        var r = await _gw.PostAsync(key, "/v1/responses", """{"model":"gpt-4o","input":"Write a haiku"}""");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var json = await r.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1234, json.GetProperty("usage").GetProperty("input_tokens").GetInt32());
        // gpt-4o: 234*2.50 + 1000*1.25 + 567*10.00 = 585 + 1250 + 5670 = 7505
        Assert.Equal(10_000_000 - 7505, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task LegacyCompletions_DebitsExactFormula()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account, 10m);

        var r = await _gw.PostAsync(key, "/v1/completions", """{"model":"gpt-3.5-turbo-instruct","prompt":"Once upon","max_tokens":1000}""");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        // gpt-3.5-turbo-instruct: input 1.50, no cached price, output 2.00: 1234*1.5 + 567*2 = 1851 + 1134 = 2985
        Assert.Equal(10_000_000 - 2985, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task Forwarding_ReplacesGatewayKeyWithUpstreamKey()
    {
        var key = await _gw.FundedKeyAsync(NewAccount());

        await _gw.OpenAI(key).GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")]);

        var seen = _gw.Upstream.Requests.Last();
        Assert.Equal("Bearer " + GatewayHost.UpstreamKey, seen.Authorization);
        Assert.DoesNotContain(seen.Headers.Values, v => v.Contains(key));
        Assert.Contains("\"content\":\"hi\"", seen.Body);
    }

    [Fact]
    public async Task ClientAcceptingGzip_UpstreamIsNotAskedToCompress_AndClientGetsMeteredJson()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account, 10m);
        using var client = new HttpClient(_gw.Settled(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None })) { BaseAddress = new Uri(_gw.BaseUrl) };

        using var r = await client.SendAsync(ChatAcceptingGzip(key));

        // The mock gzips whenever it is asked to: it was not, so the gateway read and relayed the plain body.
        await AssertPlainJsonMeteredAsync(r, account);
    }

    [Fact]
    public async Task UpstreamCompressingUnasked_IsDecodedForMetering_AndClientGetsJson()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account, 10m);
        _gw.Upstream.Options.GzipAlways = true;
        using var client = new HttpClient(_gw.Settled(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None })) { BaseAddress = new Uri(_gw.BaseUrl) };

        using var r = await client.SendAsync(ChatAcceptingGzip(key));

        // Decoded by the gateway: no Content-Encoding left, and the body parses as JSON as it is.
        await AssertPlainJsonMeteredAsync(r, account);
    }

    /// <summary>A 200 whose upstream request asked for no compression, relayed as plain JSON and charged exactly.</summary>
    private async Task AssertPlainJsonMeteredAsync(HttpResponseMessage r, string account)
    {
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.False(_gw.Upstream.Requests.Last().Headers.ContainsKey("Accept-Encoding"));
        Assert.Empty(r.Content.Headers.ContentEncoding);
        var json = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal(567, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(10_000_000 - 451, await _gw.BalanceMicrosAsync(account));
    }

    private static HttpRequestMessage ChatAcceptingGzip(string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } }),
        };
        request.Headers.Authorization = new("Bearer", key);
        request.Headers.AcceptEncoding.ParseAdd("gzip");
        return request;
    }

    [Fact]
    public async Task ExhaustedAccount_Gets429InsufficientQuota_ThroughSdk_AndNothingIsForwarded()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account, 0m);
        var before = _gw.Upstream.Requests.Count;

        var e = await Assert.ThrowsAsync<ClientResultException>(() =>
            _gw.OpenAI(key, maxRetries: 2).GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(429, e.Status);
        Assert.Contains("insufficient_quota", e.Message);
        Assert.Equal(before, _gw.Upstream.Requests.Count);
        var raw = e.GetRawResponse()!;
        Assert.Equal("false", raw.Headers.TryGetValue("x-should-retry", out var retry) ? retry : null);
        Assert.False(raw.Headers.TryGetValue("Retry-After", out _));
        var error = JsonDocument.Parse(raw.Content.ToString()).RootElement.GetProperty("error");
        Assert.Equal("insufficient_quota", error.GetProperty("type").GetString());
        Assert.Equal("credit_balance_exhausted", error.GetProperty("code").GetString());
        Assert.Contains("https://billing.example.com/credits", error.GetProperty("message").GetString());
        Assert.Equal(0, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task UnknownKey_Gets401_ThroughSdk()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() =>
            _gw.OpenAI("tg-not-a-real-key").GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(401, e.Status);
        Assert.Contains("invalid_api_key", e.Message);
        Assert.DoesNotContain("tg-not-a-real-key", e.Message);
    }

    [Fact]
    public async Task RevokedKey_Gets401_OnTheNextRequest()
    {
        var account = NewAccount();
        await _gw.CreateAccountAsync(account);
        await _gw.AddCreditsAsync(account, 10m);
        var (keyId, key) = await _gw.CreateKeyAsync(account);
        var chat = _gw.OpenAI(key).GetChatClient("gpt-4o-mini");
        await chat.CompleteChatAsync([new UserChatMessage("hi")]);

        (await _gw.Admin.DeleteAsync($"/admin/keys/{keyId}")).EnsureSuccessStatusCode();

        var e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, e.Status);
        Assert.Contains("invalid_api_key", e.Message);
    }

    [Fact]
    public async Task MalformedJson_Gets400_AndUpstreamSeesNothing()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account);
        var before = _gw.Upstream.Requests.Count;

        var r = await _gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[""");

        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var error = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("invalid_request", error.GetProperty("code").GetString());
        Assert.Equal(before, _gw.Upstream.Requests.Count);
        Assert.Equal(10_000_000, await _gw.BalanceMicrosAsync(account));
    }

    [Theory]
    [InlineData("""{"messages":[]}""", "application/json", "invalid_request")]
    [InlineData("""{"model":"gpt-4o-mini"}""", "text/plain", "invalid_request")]
    [InlineData("""{"model":"llama-unpriced","messages":[]}""", "application/json", "model_not_priced")]
    [InlineData("""{"model":"gpt-4o-mini","max_tokens":-5}""", "application/json", "invalid_request")]
    [InlineData("""[1,2]""", "application/json", "invalid_request")]
    public async Task BadRequests_Get400_AndAreNotForwarded(string body, string contentType, string code)
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account);
        var before = _gw.Upstream.Requests.Count;

        var r = await _gw.PostAsync(key, "/v1/chat/completions", body, contentType);

        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal(code, (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(before, _gw.Upstream.Requests.Count);
        Assert.Equal(10_000_000, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task Upstream500_PassesThrough_AndNothingIsCharged()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account);
        _gw.Upstream.Options.FailWithStatus = 500;
        try
        {
            var e = await Assert.ThrowsAsync<ClientResultException>(() =>
                _gw.OpenAI(key).GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")]));

            Assert.Equal(500, e.Status);
            Assert.Contains("mock_failure", e.Message);
        }
        finally
        {
            _gw.Upstream.Options.FailWithStatus = null;
        }
        Assert.Equal(10_000_000, await _gw.BalanceMicrosAsync(account));
        Assert.Equal(0, await _gw.HeldMicrosAsync(account));
        Assert.Single((await _gw.LedgerAsync(account)));  // the grant only
    }
}
