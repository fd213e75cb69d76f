using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using OpenAI.Chat;
using TokenGateway.MockUpstream;
using TokenGateway.Tests.Infrastructure;
using TokenGateway.Tests.Telemetry;

namespace TokenGateway.Tests.RateLimits;

/// <summary>Rate limits across replicas, and the SDK's own retry on a real clock.</summary>
public sealed class RateLimitReplicaTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task TwoGateways_SharingOneRedis_ServeExactly100Of300_AgainstA100RpmKey()
    {
        // One clock for both replicas, frozen: the burst is one instant, so exactly the limit fits (GCRA would admit one
        // more every 600 ms of a real clock).
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
        await using var upstream = await MockUpstreamServer.StartAsync(https: true);
        await using var a = await GatewayHost.StartAsync(redis, clock: clock, sharedUpstream: upstream);
        await using var b = await GatewayHost.StartAsync(redis, clock: clock, sharedUpstream: upstream);
        var account = "rl-replicas-" + Guid.NewGuid().ToString("N")[..6];
        await a.CreateAccountAsync(account);
        await a.AddCreditsAsync(account, 100m);
        var (keyId, key) = await a.CreateKeyAsync(account);
        await b.PutAsync($"/admin/keys/{keyId}/rate-limits", new { rpm = 100 });

        var statuses = (await Task.WhenAll(a.ChatManyAsync(key, 150, maxTokens: 10), b.ChatManyAsync(key, 150, maxTokens: 10))).SelectMany(s => s).ToList();

        Assert.Equal(100, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(200, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.Equal(100, (await a.LedgerAsync(account)).Count(e => e.GetProperty("type").GetString() == "debit"));
        Assert.Equal(0, await a.HeldMicrosAsync(account));
        var refusedByA = MetricsText.Value(await a.Http.GetStringAsync("/metrics"), "tokengateway_rate_limited_total", ("account", account), ("limit", "rpm"), ("scope", "key")) ?? 0;
        var refusedByB = MetricsText.Value(await b.Http.GetStringAsync("/metrics"), "tokengateway_rate_limited_total", ("account", account), ("limit", "rpm"), ("scope", "key")) ?? 0;
        Assert.Equal(200, refusedByA + refusedByB);
    }

    [Fact]
    public async Task SdkAutomaticRetry_AfterARateLimit_SucceedsOnceTheWindowAllows()
    {
        // A real clock: 6 RPM frees one request every 10 s, so the SDK's retry (after Retry-After) finds room.
        await using var gw = await GatewayHost.StartAsync(redis);
        var account = "rl-retry-" + Guid.NewGuid().ToString("N")[..6];
        await gw.CreateAccountAsync(account);
        await gw.AddCreditsAsync(account, 10m);
        var (keyId, key) = await gw.CreateKeyAsync(account);
        await gw.PutAsync($"/admin/keys/{keyId}/rate-limits", new { rpm = 6 });
        var tries = new StatusRecorder();
        var chat = gw.OpenAI(key, maxRetries: 3, o => o.AddPolicy(tries, PipelinePosition.PerTry)).GetChatClient("gpt-4o-mini");
        var noRetry = gw.OpenAI(key).GetChatClient("gpt-4o-mini");

        // Use the window up, until a request without retries is refused.
        var e = await Assert.ThrowsAsync<ClientResultException>(async () =>
        {
            for (var i = 0; i < 40; i++) await noRetry.CompleteChatAsync([new UserChatMessage("hi")]);
        });
        Assert.Equal(429, e.Status);
        var retryAfter = int.Parse(e.GetRawResponse()!.Headers.TryGetValue("Retry-After", out var v) ? v! : "0");
        Assert.InRange(retryAfter, 1, 10);

        var completion = await chat.CompleteChatAsync([new UserChatMessage("hi")]);

        // Refused first (the window is still full), then admitted by the SDK's own retry after Retry-After.
        Assert.Equal(ChatFinishReason.Stop, completion.Value.FinishReason);
        Assert.Equal(429, tries.Statuses[0]);
        Assert.Equal(200, tries.Statuses[^1]);
        Assert.All(tries.Statuses[..^1], s => Assert.Equal(429, s));
    }

    /// <summary>The status of every try the SDK makes (placed per try, inside its retry policy).</summary>
    private sealed class StatusRecorder : PipelinePolicy
    {
        public List<int> Statuses { get; } = [];

        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            ProcessNext(message, pipeline, currentIndex);
            lock (Statuses) Statuses.Add(message.Response!.Status);
        }

        public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            await ProcessNextAsync(message, pipeline, currentIndex);
            lock (Statuses) Statuses.Add(message.Response!.Status);
        }
    }
}
