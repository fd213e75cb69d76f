using System.Net;
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
}
