using System.Globalization;
using System.Net;
using StackExchange.Redis;
using TokenGateway.Redis;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Billing;

public sealed class ConcurrencyTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Theory]
    [InlineData(0)]
    [InlineData(0.25)]
    public async Task TwoHundredParallelRequests_NeverTakeBalanceBelowOverdraft_AndLedgerSumsToBalance(double overdraftUsd)
    {
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Billing:OverdraftUsd"] = overdraftUsd.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        gw.Upstream.Options.PromptTokens = 40;
        gw.Upstream.Options.CompletionTokens = 10_000;
        var account = "conc-" + Guid.NewGuid().ToString("N")[..6];
        var key = await gw.FundedKeyAsync(account, 5m);
        // gpt-4o: each request costs 40*2.5 + 10000*10 = 100,100 micro-USD; $5 affords ~50.
        var responses = await gw.ChatManyAsync(key, 200, maxTokens: 10_000);

        var ok = responses.Count(s => s == HttpStatusCode.OK);
        Assert.Equal(200, ok + responses.Count(s => s == HttpStatusCode.TooManyRequests));
        var overdraft = (long)(overdraftUsd * 1_000_000);
        Assert.InRange(ok, 40, 50 + (int)(overdraft / 100_100) + 1);
        var balance = await gw.BalanceMicrosAsync(account);
        Assert.True(balance >= -overdraft, $"balance {balance} went below -overdraft {-overdraft}");
        Assert.Equal(5_000_000 - ok * 100_100L, balance);
        Assert.Equal(0, await gw.HeldMicrosAsync(account));

        var ledger = await gw.LedgerAsync(account, pageSize: 7);
        Assert.Equal(ok + 1, ledger.Count);
        Assert.Equal(balance, ledger.Sum(e => e.GetProperty("amount_micros").GetInt64()));
        Assert.Equal(balance, ledger[^1].GetProperty("balance_micros").GetInt64());
    }

    private const string StreamHello = """{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hello"}]}""";

    /// <summary>
    /// Ten streams without max_tokens on $0.01, every hold placed before any is settled (each stream waits at the
    /// upstream after its first event until all ten are admitted or refused). Returns the holds as Redis has them,
    /// largest first, and the statuses.
    /// </summary>
    private async Task<(List<long> Holds, HttpStatusCode[] Statuses)> TenConcurrentStreamsAsync(IDictionary<string, string>? settings = null)
    {
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string>(settings ?? new Dictionary<string, string>()) { ["Billing:MinimumTopUpUsd"] = "0.01" });
        var release = new TaskCompletionSource();
        gw.Upstream.Options.HoldStream = release.Task;
        var account = "fair-" + Guid.NewGuid().ToString("N")[..6];
        var key = await gw.FundedKeyAsync(account, 0.01m);
        using var probe = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var holds = new AccountKeys(account).Holds;

        var pending = Enumerable.Range(0, 10).Select(_ => gw.PostAsync(key, "/v1/chat/completions", StreamHello)).ToList();
        for (var i = 0; i < 200 && pending.Count(p => p.IsCompleted) + await probe.GetDatabase().HashLengthAsync(holds) < 10; i++) await Task.Delay(25);
        var amounts = (await probe.GetDatabase().HashValuesAsync(holds))
            .Select(v => long.Parse(((string)v!).Split('|')[0], CultureInfo.InvariantCulture)).OrderDescending().ToList();
        release.SetResult();
        var statuses = (await Task.WhenAll(pending)).Select(r => r.StatusCode).ToArray();
        Assert.Equal(0, await gw.HeldMicrosAsync(account));
        Assert.True(await gw.BalanceMicrosAsync(account) >= 0);
        return (amounts, statuses);
    }

    [Fact]
    public async Task TenConcurrentWithoutMaxTokens_OnACent_AreMostlyAdmitted_EachHoldingAtMostHalfTheRoom()
    {
        var (holds, statuses) = await TenConcurrentStreamsAsync();

        var ok = statuses.Count(s => s == HttpStatusCode.OK);
        Assert.Equal(10, ok + statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.True(ok >= 5, $"{ok} of 10 admitted");
        Assert.Equal(ok, holds.Count);
        // Input bound of "Hello": 32 + 8 + 8 + "role" 4 + "user" 4 + "content" 7 + "Hello" 5 = 68 tokens, 170 µ$; output 10 µ$ a token.
        // Each hold is at most half the room left at its time (holds shrink, so largest first is the order they were placed),
        // or the minimum output's hold (170 + 16 × 10 = 330) when half the room pays less than that:
        // 5,000 (483 tokens), 2,500 (233), 1,250 (108), 620 (45), then 330 of the 630 left; the sixth finds 300 < 330.
        var room = 10_000L;
        foreach (var hold in holds)
        {
            Assert.True(hold <= room / 2 || hold == 330, $"a hold of {hold} µ$ with {room} µ$ of room");
            room -= hold;
        }
        Assert.Equal([5000L, 2500, 1250, 620, 330], holds);
    }

    [Fact]
    public async Task TenConcurrentWithoutMaxTokens_WithMaxHoldShareOne_TheFirstHoldsEverything()
    {
        var (holds, statuses) = await TenConcurrentStreamsAsync(new Dictionary<string, string> { ["Metering:MaxHoldShare"] = "1" });

        // The first request's output limit is lowered to the whole room: 170 + 983 × 10 = 10,000; nine are refused.
        Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal([10_000L], holds);
    }
}
