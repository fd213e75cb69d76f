using System.Diagnostics;
using System.Net;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Faults;

/// <summary>
/// A stalled Redis (SIGSTOP: connections open, no answers) and a cold start under a burst. Loopback only, each
/// bounded in time. The bounds are deadlines the gateway promises (its Redis timeouts are 1 s), not speed checks.
/// </summary>
public sealed class RedisStallTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Chat = """{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""";

    [Fact]
    public async Task StalledRedis_Answers503WithinTheDeadline_ReadyzToo_AndRecoversByItself()
    {
        await using var gw = await GatewayHost.StartAsync(redis);
        var account = "stall-" + Guid.NewGuid().ToString("N")[..8];
        var key = await gw.FundedKeyAsync(account, 5m);
        (await gw.PostAsync(key, "/v1/chat/completions", Chat)).EnsureSuccessStatusCode();
        var balanceBefore = await gw.BalanceMicrosAsync(account);
        var ledgerBefore = (await gw.LedgerAsync(account)).Count;
        var upstreamBefore = gw.Upstream.Requests.Count;

        using (redis.Stall())
        {
            var clock = Stopwatch.StartNew();
            var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
            {
                var started = Stopwatch.GetTimestamp();
                using var r = await gw.PostAsync(key, "/v1/chat/completions", Chat);
                return (r.StatusCode, Code: JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString(),
                    RetryAfter: r.Headers.RetryAfter?.Delta, Elapsed: Stopwatch.GetElapsedTime(started));
            }));
            Assert.All(answers, a =>
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, a.StatusCode);
                Assert.Equal("billing_unavailable", a.Code);
                Assert.NotNull(a.RetryAfter);
                Assert.True(a.Elapsed < TimeSpan.FromSeconds(4), $"a request waited {a.Elapsed.TotalSeconds:0.0} s on a stalled Redis");
            });
            var readyStarted = Stopwatch.GetTimestamp();
            using var ready = await gw.Http.GetAsync("/readyz");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.True(Stopwatch.GetElapsedTime(readyStarted) < TimeSpan.FromSeconds(4));
            // Hold the stall for 5 s in all, as the scenario does.
            var rest = TimeSpan.FromSeconds(5) - clock.Elapsed;
            if (rest > TimeSpan.Zero) await Task.Delay(rest);
        }

        // Resumes by itself: no restart, no operator.
        HttpStatusCode status = 0;
        for (var i = 0; i < 100 && status != HttpStatusCode.OK; i++)
        {
            using var r = await gw.PostAsync(key, "/v1/chat/completions", Chat);
            status = r.StatusCode;
            if (status != HttpStatusCode.OK) await Task.Delay(100);
        }
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, (await gw.Http.GetAsync("/readyz")).StatusCode);
        // Invariant: nothing refused was forwarded or charged; the one served request after recovery is the only new debit.
        Assert.Equal(upstreamBefore + 1, gw.Upstream.Requests.Count);
        var ledger = await gw.LedgerAsync(account);
        Assert.Equal(ledgerBefore + 1, ledger.Count);
        Assert.Equal(balanceBefore + ledger[^1].GetProperty("amount_micros").GetInt64(), await gw.BalanceMicrosAsync(account));
        // A reserve that timed out may have run once Redis answered again: its hold is released in the background.
        for (var i = 0; i < 200 && await gw.HeldMicrosAsync(account) != 0; i++) await Task.Delay(50);
        Assert.Equal(0, await gw.HeldMicrosAsync(account));
    }

    [Fact]
    public async Task BurstAtStartUp_EveryRequestIsAnsweredWithin5Seconds()
    {
        string key;
        var account = "cold-" + Guid.NewGuid().ToString("N")[..8];
        await using (var setup = await GatewayHost.StartAsync(redis))
        {
            key = await setup.FundedKeyAsync(account, 10m);
        }

        var clock = Stopwatch.StartNew();
        await using var gw = await GatewayHost.StartAsync(redis);
        using var client = new HttpClient(gw.Settled(new SocketsHttpHandler { MaxConnectionsPerServer = 200 })) { BaseAddress = new Uri(gw.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        var statuses = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", key);
            using var r = await client.SendAsync(request);
            return r.StatusCode;
        }));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"200 requests at start-up took {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable }));
        Assert.Contains(HttpStatusCode.OK, statuses);
        // Every 200 charged once: debits = served requests.
        for (var i = 0; i < 100 && await gw.HeldMicrosAsync(account) != 0; i++) await Task.Delay(50);
        var debits = (await gw.LedgerAsync(account)).Count(e => e.GetProperty("type").GetString() == "debit");
        Assert.Equal(statuses.Count(s => s == HttpStatusCode.OK), debits);
    }
}
