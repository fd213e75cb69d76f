using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using TokenGateway.Billing;
using TokenGateway.Keys;
using TokenGateway.Metering;
using TokenGateway.Pricing;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Billing;

/// <summary>
/// A settle replayed from the journal after its settled marker is gone (a long outage, a journal adopted late) cannot
/// charge twice: it finds its own debit in the ledger, dated at or after its request's end, and is only acknowledged.
/// </summary>
public sealed class SettleReplayTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task ReplayAfterTheMarkerExpired_ChargesOnlyWhatTheLedgerDoesNotHave()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Metering:HoldTtlSeconds"] = "60" }, clock);
        var account = "replay-" + Guid.NewGuid().ToString("N")[..6];
        var key = await gw.FundedKeyAsync(account, 5m);
        var keyRef = (await gw.Services.GetRequiredService<KeyStore>().FindAsync(GatewayKeySecret.Hash(key)))!.Value;
        var billing = gw.Services.GetRequiredService<BillingStore>();
        var journal = gw.Services.GetRequiredService<SettleJournal>();
        SettleRequest Settle(string id) => new(account, keyRef.KeyId, id, "gpt-4o", new Charge(1234, []), new TokenUsage(10, 0, 100));
        var ended = clock.GetUtcNow();

        // req_applied: Redis took the settle but its answer was lost, so it was queued too. req_lost: Redis never took it.
        await billing.SettleAsync(Settle("req_applied"), ended);
        // Hours later (past the marker's 120 s), the marker is gone when the journal is replayed.
        clock.Advance(TimeSpan.FromHours(3));
        using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        Assert.True(await admin.GetDatabase().KeyDeleteAsync("{acct:" + account + "}:settled:req_applied"));
        await journal.AppendAsync(Settle("req_applied"), ended);
        await journal.AppendAsync(Settle("req_lost"), ended);

        Assert.True(await ChatLoad.EventuallyAsync(() => Task.FromResult(journal.PendingCount == 0), TimeSpan.FromSeconds(10)));
        var debits = (await gw.LedgerAsync(account)).Where(e => e.GetProperty("type").GetString() == "debit").Select(e => e.GetProperty("request_id").GetString()).ToList();
        Assert.Equal(["req_applied", "req_lost"], debits);
        Assert.Equal(5_000_000 - 2 * 1234, await gw.BalanceMicrosAsync(account));
    }
}
