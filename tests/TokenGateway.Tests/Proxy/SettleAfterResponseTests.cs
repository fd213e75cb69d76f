using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using TokenGateway.MockUpstream;
using TokenGateway.Metering;
using TokenGateway.Redis;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Proxy;

/// <summary>
/// A metered answer ends before its settle (issue 14: the settle's round trip no longer delays the last byte), and a read
/// of the account on the same gateway still sees the answer charged (read-your-writes).
/// </summary>
public sealed class SettleAfterResponseTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task TheAnswerEndsWhileItsSettleCannotRun_AndTheBalanceReadAfterwardsIncludesIt()
    {
        // A Redis call may wait 5 s here, so the paused settle is not sent to the journal while the test looks.
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Redis:TimeoutMilliseconds"] = "5000" },
            upstream: new MockUpstreamOptions { Delay = TimeSpan.FromSeconds(1) });
        var account = "acct-" + Guid.NewGuid().ToString("N")[..8];
        var key = await gw.FundedKeyAsync(account, 10m);
        using var conn = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = conn.GetServer(conn.GetEndPoints()[0]);
        var accountHash = new AccountKeys(account).Account;

        // A plain client: its answer ends when the gateway's does (not when the settle has, as the tests' own handler waits).
        using var client = new HttpClient { BaseAddress = new Uri(gw.BaseUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", key);
        var upstreamBefore = gw.Upstream.Requests.Count;
        var sending = client.SendAsync(request);
        Assert.True(await ChatLoad.EventuallyAsync(() => Task.FromResult(gw.Upstream.Requests.Count > upstreamBefore), TimeSpan.FromSeconds(20)));

        // Reserved and upstream: Redis now takes no write (a script included) until UNPAUSE, so no settle can run.
        await server.ExecuteAsync("CLIENT", "PAUSE", "30000", "WRITE");
        try
        {
            using var response = await sending;
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("\"usage\"", body);
            // The whole answer is here, and its charge is not: the settle waits (reads still run while writes are paused).
            Assert.Equal(10_000_000, (long)await conn.GetDatabase().HashGetAsync(accountHash, "balance"));
            Assert.Equal(1, gw.Services.GetRequiredService<PendingSettles>().Count);
        }
        finally
        {
            await server.ExecuteAsync("CLIENT", "UNPAUSE");
        }

        // The admin API's read waits for this gateway's settles: 40 input + 12 output tokens of gpt-4o-mini, 14 micro-USD.
        Assert.Equal(10_000_000 - 14, await gw.BalanceMicrosAsync(account));
        Assert.Equal(0, await gw.HeldMicrosAsync(account));
    }
}
