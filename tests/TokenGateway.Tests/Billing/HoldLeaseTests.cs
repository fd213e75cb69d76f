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
}
