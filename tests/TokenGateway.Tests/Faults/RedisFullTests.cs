using System.Net;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using StackExchange.Redis;
using TokenGateway.Billing;
using TokenGateway.MockUpstream;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Faults;

/// <summary>
/// Redis at <c>maxmemory</c> with <c>noeviction</c> (as in k8s/): Redis refuses the scripts that write and plain writes
/// with OOM; the gateway answers 503 <c>billing_store_full</c> (not "unreachable"), forwards nothing, changes nothing.
/// </summary>
public sealed class RedisFullTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Chat = """{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""";

    [Fact]
    public async Task FullRedis_RefusesWithBillingStoreFull_AndChangesNothing()
    {
        await using var gw = await GatewayHost.StartAsync(redis);
        var account = "full-" + Guid.NewGuid().ToString("N")[..8];
        var key = await gw.FundedKeyAsync(account, 5m);
        var balance = await gw.BalanceMicrosAsync(account);
        var upstream = gw.Upstream.Requests.Count;
        using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = admin.GetServer(redis.Configuration);
        var db = admin.GetDatabase();
        try
        {
            // Full: used memory above maxmemory (set below what is used now), so every plain write is refused.
            var filler = new string('x', 100_000);
            for (var i = 0; i < 20; i++) await db.StringSetAsync($"filler:{i}", filler);
            var used = long.Parse((await server.InfoAsync("memory")).SelectMany(g => g).First(kv => kv.Key == "used_memory").Value);
            await server.ConfigSetAsync("maxmemory-policy", "noeviction");
            await server.ConfigSetAsync("maxmemory", (used - 1_000_000).ToString());
            await Assert.ThrowsAsync<RedisServerException>(() => db.StringSetAsync("filler:one-more", "x"));

            // A metered request: refused before anything is reserved or forwarded.
            using (var refused = await gw.PostAsync(key, "/v1/chat/completions", Chat))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.Equal("billing_store_full", JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
                Assert.NotNull(refused.Headers.RetryAfter);
            }
            Assert.Equal(upstream, gw.Upstream.Requests.Count);

            // A plain write: refused, in OpenAI's shape, naming the cause.
            using var r = await gw.Admin.PostAsync("/admin/accounts", new StringContent("""{"id":"full-new","name":"x"}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
            var error = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
            Assert.Equal("billing_store_full", error.GetProperty("code").GetString());
            Assert.Equal("server_error", error.GetProperty("type").GetString());
            Assert.NotNull(r.Headers.RetryAfter);
        }
        finally
        {
            await server.ConfigSetAsync("maxmemory", "0");
            for (var i = 0; i < 20; i++) await db.KeyDeleteAsync($"filler:{i}");
        }
        // Invariant: nothing was charged or held, and the refused account was not created.
        Assert.Equal(balance, await gw.BalanceMicrosAsync(account));
        Assert.DoesNotContain(await gw.LedgerAsync(account), e => e.GetProperty("type").GetString() == "debit");
        Assert.Equal(0, await gw.HeldMicrosAsync(account));
        Assert.Equal(HttpStatusCode.NotFound, (await gw.Admin.GetAsync("/admin/accounts/full-new")).StatusCode);
        (await gw.PostAsync(key, "/v1/chat/completions", Chat)).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task RedisFullWhileRequestsAreUpstream_TheirSettlesAreQueued_AndChargedOnceMemoryIsRaised()
    {
        await using var gw = await GatewayHost.StartAsync(redis, upstream: new MockUpstreamOptions { Delay = TimeSpan.FromSeconds(1) });
        var account = "fullsettle-" + Guid.NewGuid().ToString("N")[..8];
        var key = await gw.FundedKeyAsync(account, 5m);
        using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = admin.GetServer(redis.Configuration);
        var db = admin.GetDatabase();
        using var client = ChatLoad.Client(gw);
        var before = gw.Upstream.Requests.Count;
        var inFlight = Task.WhenAll(Enumerable.Range(0, 30).Select(_ => ChatLoad.SendAsync(client, key)));
        Assert.True(await ChatLoad.EventuallyAsync(() => Task.FromResult(gw.Upstream.Requests.Count - before == 30), TimeSpan.FromSeconds(20)));
        (HttpStatusCode Status, string? RequestId)[] served;
        var journal = gw.Services.GetRequiredService<SettleJournal>();
        try
        {
            // Full while the 30 are upstream: their settles are refused with OOM.
            var filler = new string('x', 100_000);
            for (var i = 0; i < 20; i++) await db.StringSetAsync($"fullsettle:{i}", filler);
            var used = long.Parse((await server.InfoAsync("memory")).SelectMany(g => g).First(kv => kv.Key == "used_memory").Value);
            await server.ConfigSetAsync("maxmemory-policy", "noeviction");
            await server.ConfigSetAsync("maxmemory", (used - 1_000_000).ToString());

            served = await inFlight;
            Assert.All(served, r => Assert.Equal(HttpStatusCode.OK, r.Status));
            Assert.Equal(30, journal.PendingCount);
            // Meanwhile new requests are refused as a full store, not an unreachable one.
            var refused = await ChatLoad.SendAsync(client, key);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
            using var r = await gw.PostAsync(key, "/v1/chat/completions", Chat);
            Assert.Equal("billing_store_full", JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
            // Still queued a few replay rounds later: nothing is dropped while Redis refuses.
            await Task.Delay(2500);
            Assert.Equal(30, journal.PendingCount);
        }
        finally
        {
            await server.ConfigSetAsync("maxmemory", "0");
            for (var i = 0; i < 20; i++) await db.KeyDeleteAsync($"fullsettle:{i}");
        }
        Assert.True(await ChatLoad.EventuallyAsync(async () => journal.PendingCount == 0 && await gw.HeldMicrosAsync(account) == 0, TimeSpan.FromSeconds(20)));
        await BillingInvariant.AssertAsync(gw, account, 0, [.. served.Select(s => s.RequestId!)], _ => ChatLoad.ChatCostMicros);
    }
}
