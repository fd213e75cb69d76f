using TokenGateway.Pricing;
using TokenGateway.Metering;
using Microsoft.Extensions.DependencyInjection;
using TokenGateway.Billing;
using TokenGateway.Keys;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Billing;

public sealed class HoldLeaseTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task HoldOfACrashedRequest_IsReleasedAfterItsTtl()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero));
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Metering:HoldTtlSeconds"] = "60" }, clock);
        var account = "lease-" + Guid.NewGuid().ToString("N")[..6];
        var key = await gw.FundedKeyAsync(account, 5m);
        var keyRef = (await gw.Services.GetRequiredService<KeyStore>().FindAsync(GatewayKeySecret.Hash(key)))!.Value;

        // A gateway reserves, then dies before settling: nothing but the hold is left behind.
        var billing = gw.Services.GetRequiredService<BillingStore>();
        var reserved = await billing.ReserveAsync(new ReserveRequest(account, keyRef.KeyId, GatewayKeySecret.Hash(key), "req_crashed", "gpt-4o",
            InputCostMicros: 1000, OutputPicosPerToken: 10_000_000, MaxOutputTokens: 400_000, Choices: 1, ExplicitOutputLimit: true));
        Assert.Equal(ReserveStatus.Reserved, reserved.Status);
        Assert.Equal(4_001_000, await gw.HeldMicrosAsync(account));

        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(4_001_000, await gw.HeldMicrosAsync(account));

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, await gw.HeldMicrosAsync(account));
        Assert.Equal(5_000_000, await gw.BalanceMicrosAsync(account));
        Assert.Single(await gw.LedgerAsync(account));

        // A settle arriving after the lease ended still charges what was used, once.
        var settled = await billing.SettleAsync(new SettleRequest(account, keyRef.KeyId, "req_crashed", "gpt-4o", new Charge(1234, []), new TokenUsage(10, 0, 100)));
        var again = await billing.SettleAsync(new SettleRequest(account, keyRef.KeyId, "req_crashed", "gpt-4o", new Charge(1234, []), new TokenUsage(10, 0, 100)));
        Assert.False(settled.AlreadySettled);
        Assert.True(again.AlreadySettled);
        Assert.Equal(5_000_000 - 1234, await gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task LeaseRenewedByHeartbeats_AndAtItsEnd_ChargedTheRecordedConsumption_ALateSettleOnlyTheRest()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero));
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Metering:HoldTtlSeconds"] = "60", ["Metering:HeartbeatSeconds"] = "20" }, clock);
        var account = "beat-" + Guid.NewGuid().ToString("N")[..6];
        var key = await gw.FundedKeyAsync(account, 5m);
        var keyRef = (await gw.Services.GetRequiredService<KeyStore>().FindAsync(GatewayKeySecret.Hash(key)))!.Value;
        var billing = gw.Services.GetRequiredService<BillingStore>();
        var reserved = await billing.ReserveAsync(new ReserveRequest(account, keyRef.KeyId, GatewayKeySecret.Hash(key), "req_beat", "gpt-4o",
            InputCostMicros: 1000, OutputPicosPerToken: 10_000_000, MaxOutputTokens: 1000, Choices: 1, ExplicitOutputLimit: true));
        Assert.Equal(11_000, reserved.HoldMicros);
        var consumed = new HeldConsumption("req_beat", "gpt-4o", new Charge(700, [new LineItem("output", 50, 10_000_000m)]), new TokenUsage(10, 0, 50), TimeSpan.FromMinutes(2));

        // Beats at 0 s and 50 s: the lease (60 s) is renewed to 110 s, so at 100 s the hold is still there.
        Assert.Equal(1, await billing.HeartbeatAsync(account, [consumed]));
        clock.Advance(TimeSpan.FromSeconds(50));
        Assert.Equal(1, await billing.HeartbeatAsync(account, [consumed]));
        clock.Advance(TimeSpan.FromSeconds(50));
        Assert.Equal(11_000, await gw.HeldMicrosAsync(account));

        // No beat after 50 s (the replica died): at 111 s the hold is charged the record, 700 µ$, not released.
        clock.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(0, await gw.HeldMicrosAsync(account));
        Assert.Equal(5_000_000 - 700, await gw.BalanceMicrosAsync(account));
        var debit = Assert.Single(await gw.LedgerAsync(account), e => e.GetProperty("type").GetString() == "debit");
        Assert.Equal("req_beat", debit.GetProperty("request_id").GetString());
        Assert.Equal("1", debit.GetProperty("lease_expired").GetString());
        Assert.Equal(50, debit.GetProperty("output_tokens").GetInt64());
        Assert.Equal(-700, debit.GetProperty("amount_micros").GetInt64());
        // A beat for a hold that is gone brings nothing back.
        Assert.Equal(0, await billing.HeartbeatAsync(account, [consumed]));
        Assert.Equal(0, await gw.HeldMicrosAsync(account));

        // The replica was only cut off: its settle (1,234 µ$) comes after all and charges the 534 the lease left out, once.
        var late = new SettleRequest(account, keyRef.KeyId, "req_beat", "gpt-4o", new Charge(1234, []), new TokenUsage(10, 0, 100));
        Assert.False((await billing.SettleAsync(late)).AlreadySettled);
        Assert.True((await billing.SettleAsync(late)).AlreadySettled);
        Assert.Equal(5_000_000 - 1234, await gw.BalanceMicrosAsync(account));
        var ledger = await gw.LedgerAsync(account);
        Assert.Equal(await gw.BalanceMicrosAsync(account), ledger.Sum(e => e.GetProperty("amount_micros").GetInt64()));
    }
}
