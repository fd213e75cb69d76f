using System.Net;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Billing;

/// <summary>Grants: draw order, expiry on its day, debt paid by the next top-up; the ledger always adds up.</summary>
public sealed class GrantTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _clock = new(Start);
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _gw = await GatewayHost.StartAsync(redis, clock: _clock);
        // gpt-4o: the mock's reported prompt tokens decide the cost: 2,000,000 * $2.50/M + 1 output * $10/M = 5,000,010 micro-USD.
        _gw.Upstream.Options.PromptTokens = 2_000_000;
        _gw.Upstream.Options.CompletionTokens = 1;
    }

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private async Task<(string Account, string Key)> AccountAsync()
    {
        var account = "grants-" + Guid.NewGuid().ToString("N")[..8];
        await _gw.CreateAccountAsync(account);
        return (account, (await _gw.CreateKeyAsync(account)).Key);
    }

    private async Task SpendAsync(string key, int requests)
    {
        for (var i = 0; i < requests; i++) Assert.Equal(HttpStatusCode.OK, (await _gw.ChatManyAsync(key, 1, maxTokens: 1))[0]);
    }

    private async Task<Dictionary<DateTimeOffset, long>> RemainingByExpiryAsync(string account) =>
        (await _gw.GetAccountAsync(account)).GetProperty("grants").EnumerateArray()
            .ToDictionary(g => g.GetProperty("expires_at").GetDateTimeOffset(), g => g.GetProperty("remaining_micros").GetInt64());

    private async Task AssertLedgerSumsToBalanceAsync(string account)
    {
        var ledger = await _gw.LedgerAsync(account, pageSize: 3);
        var balance = await _gw.BalanceMicrosAsync(account);
        Assert.Equal(balance, ledger.Sum(e => e.GetProperty("amount_micros").GetInt64()));
        Assert.Equal(balance, ledger[^1].GetProperty("balance_micros").GetInt64());
    }

    [Fact]
    public async Task Spending_DrawsFromTheGrantThatExpiresFirst_AcrossSeveralGrants()
    {
        var (account, key) = await AccountAsync();
        DateTimeOffset in90Days = Start.AddDays(90), in30Days = Start.AddDays(30), inOneYear = Start.AddDays(365);
        // Added out of expiry order on purpose: the order of expiry decides, not the order of arrival.
        await _gw.AddCreditsAsync(account, 10m, expiresAt: in90Days);
        await _gw.AddCreditsAsync(account, 10m);
        await _gw.AddCreditsAsync(account, 10m, expiresAt: in30Days);

        await SpendAsync(key, 3); // 15,000,030: all of the 30-day grant, 5,000,030 of the 90-day one, none of the one-year one.

        var remaining = await RemainingByExpiryAsync(account);
        Assert.Equal(0, remaining[in30Days]);
        Assert.Equal(10_000_000 - 5_000_030, remaining[in90Days]);
        Assert.Equal(10_000_000, remaining[inOneYear]);
        Assert.Equal(30_000_000 - 15_000_030, await _gw.BalanceMicrosAsync(account));
        await AssertLedgerSumsToBalanceAsync(account);
    }

    [Fact]
    public async Task ExpiredGrant_RemainderLeavesTheBalance_OnTheDayItExpires()
    {
        var (account, key) = await AccountAsync();
        var expiry = Start.AddDays(30);
        await _gw.AddCreditsAsync(account, 10m, expiresAt: expiry);
        await _gw.AddCreditsAsync(account, 10m);
        await SpendAsync(key, 1); // 5,000,010 from the grant that expires first.

        _clock.SetUtcNow(expiry.AddMinutes(-1));
        Assert.Equal(20_000_000 - 5_000_010, await _gw.BalanceMicrosAsync(account));

        // Nothing touches the account for three days after the expiry; the entry is still dated on the expiry day.
        _clock.SetUtcNow(expiry.AddDays(3));
        Assert.Equal(10_000_000, await _gw.BalanceMicrosAsync(account));
        var expiryEntry = Assert.Single(await _gw.LedgerAsync(account), e => e.GetProperty("type").GetString() == "expiry");
        Assert.Equal(-(10_000_000 - 5_000_010), expiryEntry.GetProperty("amount_micros").GetInt64());
        Assert.Equal(expiry, expiryEntry.GetProperty("created_at").GetDateTimeOffset());
        await AssertLedgerSumsToBalanceAsync(account);

        // What is left is the one-year grant, which spending now draws from.
        await SpendAsync(key, 1);
        Assert.Equal(10_000_000 - 5_000_010, (await RemainingByExpiryAsync(account))[Start.AddDays(365)]);
    }

    [Fact]
    public async Task NegativeBalance_IsPaidFirstFromTheNextTopUp_AndTheLedgerShowsIt()
    {
        var (account, key) = await AccountAsync();
        await _gw.AddCreditsAsync(account, 5m);
        // The upstream reports more input than the local count saw: the settle charges the real 5,500,010.
        _gw.Upstream.Options.PromptTokens = 2_200_000;
        try { await SpendAsync(key, 1); }
        finally { _gw.Upstream.Options.PromptTokens = 2_000_000; }
        Assert.Equal(-500_010, await _gw.BalanceMicrosAsync(account));

        await _gw.AddCreditsAsync(account, 10m);

        Assert.Equal(9_499_990, await _gw.BalanceMicrosAsync(account));
        var topUp = (await _gw.LedgerAsync(account)).Last();
        Assert.Equal("grant", topUp.GetProperty("type").GetString());
        Assert.Equal(500_010, topUp.GetProperty("covered_debt").GetInt64());
        // Only the rest of the new grant is left to draw from.
        var grant = (await _gw.GetAccountAsync(account)).GetProperty("grants").EnumerateArray().Single(g => g.GetProperty("amount_micros").GetInt64() == 10_000_000);
        Assert.Equal(9_499_990, grant.GetProperty("remaining_micros").GetInt64());
        await AssertLedgerSumsToBalanceAsync(account);
    }

    [Fact]
    public async Task Sweep_AppliesExpiryToAnIdleAccount_WithoutAnyRequestOrRead()
    {
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Billing:SweepSeconds"] = "1" }, _clock);
        var account = "sweep-" + Guid.NewGuid().ToString("N")[..8];
        await gw.CreateAccountAsync(account);
        await gw.AddCreditsAsync(account, 10m, expiresAt: Start.AddDays(30));
        await gw.AddCreditsAsync(account, 5m);
        using var redisClient = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var db = redisClient.GetDatabase();

        _clock.SetUtcNow(Start.AddDays(31));

        // Read Redis directly: every gateway read would apply the expiry itself.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while ((long)await db.HashGetAsync("{acct:" + account + "}", "balance") != 5_000_000 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(5_000_000, (long)await db.HashGetAsync("{acct:" + account + "}", "balance"));
    }
}
