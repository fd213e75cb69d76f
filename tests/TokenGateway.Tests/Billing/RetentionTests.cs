using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using TokenGateway.Billing;
using TokenGateway.Billing.Scripts;
using TokenGateway.Metering;
using TokenGateway.Pricing;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Billing;

/// <summary>
/// Billing:Retention: the ledger trimmed by age in the scripts that append to it (and by the sweep), usage-day hashes
/// and settled markers with a TTL, month fields of earlier months dropped; the balance is never changed by any of it.
/// </summary>
public sealed class RetentionTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);
    private ConnectionMultiplexer _redis = null!;
    private IDatabase Db => _redis.GetDatabase();

    public async Task InitializeAsync() => _redis = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    private static async Task<(string Account, string KeyId)> AccountAsync(GatewayHost gw, decimal usd = 10m)
    {
        var account = "ret-" + Guid.NewGuid().ToString("N")[..8];
        await gw.CreateAccountAsync(account);
        if (usd > 0) await gw.AddCreditsAsync(account, usd);
        return (account, (await gw.CreateKeyAsync(account)).Id);
    }

    private static Task<SettleResult> SettleAsync(GatewayHost gw, string account, string keyId, string requestId, long micros = 1000) =>
        gw.Services.GetRequiredService<BillingStore>().SettleAsync(
            new SettleRequest(account, keyId, requestId, "gpt-4o", new Charge(micros, []), new TokenUsage(10, 0, 20)));

    private static DateTimeOffset Date(JsonElement entry) => entry.GetProperty("created_at").GetDateTimeOffset();

    private async Task SetNodeEntriesAsync(int entries) =>
        await _redis.GetServer(_redis.GetEndPoints()[0]).ConfigSetAsync("stream-node-max-entries", entries);

    [Fact]
    public async Task Ledger_EntriesOlderThanTheRetention_AreTrimmedByLaterSettlesAndGrants_AndTheBalanceIsUnchanged()
    {
        // NOTE: trimming is approximate (MINID ~): Redis frees whole stream nodes. With one entry per node it is exact,
        // so the cut-off itself is checked here; the next test checks the bound with Redis's default node size.
        await SetNodeEntriesAsync(1);
        try
        {
            var clock = new FakeTimeProvider(Start);
            await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Billing:Retention:LedgerDays"] = "1" }, clock);
            var (account, keyId) = await AccountAsync(gw); // the $10 grant, at Start
            await SettleAsync(gw, account, keyId, "req_day0_a");
            await SettleAsync(gw, account, keyId, "req_day0_b");
            clock.Advance(TimeSpan.FromHours(20));
            await SettleAsync(gw, account, keyId, "req_20h_a");
            await SettleAsync(gw, account, keyId, "req_20h_b");
            Assert.Equal(5, (await gw.LedgerAsync(account)).Count);

            // 36 h after the start, the retention (1 day) reaches back to 12 h: the grant and the first two debits go.
            clock.SetUtcNow(Start.AddHours(36));
            await SettleAsync(gw, account, keyId, "req_36h");

            var ledger = await gw.LedgerAsync(account);
            Assert.Equal(["req_20h_a", "req_20h_b", "req_36h"], ledger.Select(e => e.GetProperty("request_id").GetString()));
            Assert.All(ledger, e => Assert.True(Date(e) >= Start.AddHours(12)));
            Assert.Equal(10_000_000 - 5 * 1000, await gw.BalanceMicrosAsync(account));
            Assert.Equal(10_000_000 - 5 * 1000, ledger[^1].GetProperty("balance_micros").GetInt64());

            // A grant trims too: three days on, only the new grant is left, and the balance is the sum of everything.
            clock.SetUtcNow(Start.AddDays(3));
            await gw.AddCreditsAsync(account, 5m);
            var entry = Assert.Single(await gw.LedgerAsync(account));
            Assert.Equal("grant", entry.GetProperty("type").GetString());
            Assert.Equal(15_000_000 - 5 * 1000, await gw.BalanceMicrosAsync(account));
            Assert.Equal(15_000_000 - 5 * 1000, entry.GetProperty("balance_micros").GetInt64());
        }
        finally
        {
            await SetNodeEntriesAsync(100);
        }
    }

    [Fact]
    public async Task Ledger_WithRedisDefaultNodes_KeepsAtMostOneNodeOfExpiredEntries()
    {
        var clock = new FakeTimeProvider(Start);
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Billing:Retention:LedgerDays"] = "1" }, clock);
        var (account, keyId) = await AccountAsync(gw);
        for (var i = 0; i < 300; i++) await SettleAsync(gw, account, keyId, "req_old_" + i);
        Assert.Equal(301, await Db.StreamLengthAsync("{acct:" + account + "}:ledger"));

        clock.SetUtcNow(Start.AddDays(2));
        await SettleAsync(gw, account, keyId, "req_new");

        var ledger = await gw.LedgerAsync(account, pageSize: 500);
        // stream-node-max-entries is 100: the old entries left are those sharing the last node with the new one.
        Assert.InRange(ledger.Count(e => Date(e) < Start.AddDays(1)), 0, 100);
        Assert.Equal("req_new", ledger[^1].GetProperty("request_id").GetString());
        Assert.Equal(10_000_000 - 301 * 1000, await gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task Ledger_IdsFollowTheGatewayClock_AndStillIncreaseWhenAClockIsBehind()
    {
        await using var gw = await GatewayHost.StartAsync(redis, clock: new FakeTimeProvider(Start));
        // Another replica, whose clock is an hour behind, on the same Redis.
        await using var behind = await GatewayHost.StartAsync(redis, clock: new FakeTimeProvider(Start.AddHours(-1)));
        var (account, keyId) = await AccountAsync(gw);
        await SettleAsync(gw, account, keyId, "req_first");
        await SettleAsync(behind, account, keyId, "req_behind");
        await SettleAsync(behind, account, keyId, "req_behind_again");

        var ledger = await gw.LedgerAsync(account);
        var ids = ledger.Select(e => e.GetProperty("id").GetString()!).ToList();
        Assert.Equal(Start.ToUnixTimeMilliseconds() + "-0", ids[0]);
        Assert.Equal(["req_first", "req_behind", "req_behind_again"], ledger.Skip(1).Select(e => e.GetProperty("request_id").GetString()));
        Assert.Equal([Start.ToUnixTimeMilliseconds() + "-2", Start.ToUnixTimeMilliseconds() + "-3"], ids[^2..]);
        Assert.Equal(Start.AddHours(-1), Date(ledger[^1])); // the date shown is still the replica's own
        Assert.Equal(10_000_000 - 3000, ledger[^1].GetProperty("balance_micros").GetInt64());
    }

    [Fact]
    public async Task Ledger_AnEntryDatedBeforeTheLastIdOfAStreamTrimmedEmpty_IsStillAppended()
    {
        await using var gw = await GatewayHost.StartAsync(redis, clock: new FakeTimeProvider(Start));
        var (account, keyId) = await AccountAsync(gw);
        var day = TimeSpan.FromDays(1);
        Task<SettleResult> Settle(string requestId, DateTimeOffset now) =>
            new SettleScript(account, requestId, now, new Charge(1000, []), keyId, "gpt-4o", TimeSpan.FromDays(365), day, day, TimeSpan.FromHours(1),
                5_000_000, new TokenUsage(10, 0, 20)).RunAsync(Db);
        // A replica ten days ahead settles, then sweeps twenty days ahead: the stream is empty but remembers its last id.
        await Settle("req_ahead", Start.AddDays(10));
        await new SweepScript(account, Start.AddDays(20), 100, day).RunAsync(Db);
        Assert.Equal(0, await Db.StreamLengthAsync("{acct:" + account + "}:ledger"));

        // A settle dated before that id (a replica on the right clock) is appended all the same.
        var settled = await Settle("req_now", Start);

        Assert.False(settled.AlreadySettled);
        var entry = Assert.Single(await gw.LedgerAsync(account));
        Assert.Equal("req_now", entry.GetProperty("request_id").GetString());
        Assert.Equal(Start, Date(entry));
        Assert.Equal(10_000_000 - 2000, await gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task UsageDayHash_ExpiresUsageDaysAfterItsDay_AndTheSettledMarker_LivesItsConfiguredTime()
    {
        var clock = new FakeTimeProvider(Start);
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string>
        {
            ["Billing:Retention:UsageDays"] = "3",
            ["Billing:Retention:SettleMarkerSeconds"] = "1200",
        }, clock);
        var (account, keyId) = await AccountAsync(gw);

        var first = await SettleAsync(gw, account, keyId, "req_marker", 1234);

        // The 21st ends at midnight; three days later is 2026-11-25 00:00, 87 h after 09:00 on the 21st.
        var usageTtl = await Db.KeyTimeToLiveAsync("{acct:" + account + "}:usage:20261121");
        Assert.InRange(usageTtl!.Value, TimeSpan.FromHours(87) - TimeSpan.FromSeconds(30), TimeSpan.FromHours(87));
        var markerTtl = await Db.KeyTimeToLiveAsync("{acct:" + account + "}:settled:req_marker");
        Assert.InRange(markerTtl!.Value, TimeSpan.FromSeconds(1170), TimeSpan.FromSeconds(1200));

        // Replayed within the marker's life (the clock moved 15 min, the hold's lease), it charges nothing.
        clock.Advance(TimeSpan.FromMinutes(15));
        var replay = await SettleAsync(gw, account, keyId, "req_marker", 1234);
        Assert.False(first.AlreadySettled);
        Assert.True(replay.AlreadySettled);
        Assert.Equal(10_000_000 - 1234, await gw.BalanceMicrosAsync(account));
        Assert.Single(await gw.LedgerAsync(account), e => e.GetProperty("type").GetString() == "debit");
        // A later settle of the same day leaves the expiry as it was.
        await SettleAsync(gw, account, keyId, "req_later");
        Assert.InRange((await Db.KeyTimeToLiveAsync("{acct:" + account + "}:usage:20261121"))!.Value, TimeSpan.FromHours(86), TimeSpan.FromHours(87));
    }

    [Fact]
    public async Task SettledMarker_LivesTwiceTheHoldLease_ByDefault()
    {
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Metering:HoldTtlSeconds"] = "60" });
        var (account, keyId) = await AccountAsync(gw);
        await SettleAsync(gw, account, keyId, "req_default");
        var ttl = await Db.KeyTimeToLiveAsync("{acct:" + account + "}:settled:req_default");
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(120));
    }

    [Theory]
    [InlineData("Billing:Retention:LedgerDays", "0")]
    [InlineData("Billing:Retention:UsageDays", "-1")]
    [InlineData("Billing:Retention:SettleMarkerSeconds", "899")] // below Metering:HoldTtlSeconds (900)
    public async Task RetentionSettings_AreValidatedAtStart(string setting, string value)
    {
        var e = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            GatewayHost.StartAsync(redis, new Dictionary<string, string> { [setting] = value }));
        Assert.Contains("TokenGateway:" + setting, e.Message);
    }

    [Fact]
    public async Task MonthFields_OfMonthsBeforeThePreviousOne_AreDroppedByTheFirstDebitOfAMonth()
    {
        var clock = new FakeTimeProvider(Start); // November 2026
        await using var gw = await GatewayHost.StartAsync(redis, clock: clock);
        var (account, keyId) = await AccountAsync(gw, 100m);
        await gw.PutAsync($"/admin/accounts/{account}/limits", new { soft_limit_usd = 0.000001m });
        await SettleAsync(gw, account, keyId, "req_nov");
        clock.SetUtcNow(new DateTimeOffset(2026, 12, 10, 0, 0, 0, TimeSpan.Zero));
        await SettleAsync(gw, account, keyId, "req_dec");
        string[] Fields(string month) => ["spend:" + month, "kspend:" + month + ":" + keyId, "soft_notified:" + month];
        var hash = (await Db.HashKeysAsync("{acct:" + account + "}")).Select(f => (string)f!).ToHashSet();
        Assert.Superset(Fields("202611").Concat(Fields("202612")).ToHashSet(), hash);

        clock.SetUtcNow(new DateTimeOffset(2027, 1, 3, 0, 0, 0, TimeSpan.Zero));
        await SettleAsync(gw, account, keyId, "req_jan");

        hash = (await Db.HashKeysAsync("{acct:" + account + "}")).Select(f => (string)f!).ToHashSet();
        Assert.Empty(hash.Intersect(Fields("202611")));
        Assert.Superset(Fields("202612").Concat(Fields("202701")).ToHashSet(), hash);
        Assert.Equal(100_000_000 - 3000, await gw.BalanceMicrosAsync(account));
        Assert.Equal(1000, (await gw.GetAccountAsync(account)).GetProperty("month_spend_micros").GetInt64());
    }

    [Fact]
    public async Task Sweep_TrimsTheLedgerOfAnIdleAccount()
    {
        var clock = new FakeTimeProvider(Start);
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string>
        {
            ["Billing:Retention:LedgerDays"] = "1",
            ["Billing:SweepSeconds"] = "1",
        }, clock);
        var (account, keyId) = await AccountAsync(gw);
        await SettleAsync(gw, account, keyId, "req_idle");
        var ledger = (RedisKey)("{acct:" + account + "}:ledger");
        Assert.Equal(2, await Db.StreamLengthAsync(ledger));

        clock.SetUtcNow(Start.AddDays(2));

        // Read Redis directly: nothing else touches the account.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (await Db.StreamLengthAsync(ledger) > 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(0, await Db.StreamLengthAsync(ledger));
        Assert.Equal(10_000_000 - 1000, (long)await Db.HashGetAsync("{acct:" + account + "}", "balance"));
    }
}
