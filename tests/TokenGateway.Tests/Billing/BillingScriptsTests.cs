using System.Net;
using StackExchange.Redis;
using TokenGateway.Billing.Scripts;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Billing;

public sealed class BillingScriptsTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public void All_ListsEveryEmbeddedScript_ExceptThePreludes()
    {
        const string prefix = "TokenGateway.Billing.Scripts.";
        var embedded = typeof(BillingScripts).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".lua", StringComparison.Ordinal))
            .Select(n => n[prefix.Length..^4])
            .Where(n => n is not ("prelude" or "ratelimit"))
            .ToList();

        Assert.Equal(10, embedded.Count);
        Assert.Equal(embedded.Select(BillingScripts.Load).Order(StringComparer.Ordinal), BillingScripts.All.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Request_AfterTheScriptCacheWasFlushed_IsMeteredAsUsual()
    {
        await using var gw = await GatewayHost.StartAsync(redis);
        var account = "flush-" + Guid.NewGuid().ToString("N")[..6];
        var key = await gw.FundedKeyAsync(account);
        Assert.Equal(HttpStatusCode.OK, (await gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[]}""")).StatusCode);
        using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true"))
        {
            // As after a Redis restart or a failover: the client's EVALSHA meets NOSCRIPT and it sends the script again.
            await admin.GetServer(admin.GetEndPoints()[0]).ScriptFlushAsync();
        }

        var r = await gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[]}""");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(2, (await gw.LedgerAsync(account)).Count(e => e.GetProperty("type").GetString() == "debit"));
        Assert.Equal(0, await gw.HeldMicrosAsync(account));
    }
}
