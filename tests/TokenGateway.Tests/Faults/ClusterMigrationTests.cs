using System.Net;
using Microsoft.Extensions.DependencyInjection;
using TokenGateway.Billing;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Faults;

/// <summary>
/// A 3-master Redis Cluster with the account's slot migrated to another master under load: while the slot is half
/// moved, Redis answers the account's scripts TRYAGAIN (or ASK). Reserves refused then are 503s; settles Redis refuses
/// then wait in the settle journal and are replayed once the slot has moved: no served request is left uncharged.
/// </summary>
[Collection(SoloFaultCollection.Name)]
public sealed class ClusterMigrationTests
{
    [Fact]
    public async Task AccountSlotMigratedUnderLoad_EveryServedRequestChargedOnce()
    {
        await using var cluster = await RedisCluster.StartAsync();
        await using var gw = await GatewayHost.StartAsync(cluster.Configuration);
        var account = "slot-" + Guid.NewGuid().ToString("N")[..8];
        var key = await gw.FundedKeyAsync(account, 10m);
        // Some traffic first, so the slot holds the ledger, usage and marker keys a migration moves one by one.
        using var client = ChatLoad.Client(gw);
        var results = new List<(HttpStatusCode Status, string? RequestId)>(await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => ChatLoad.SendAsync(client, key))));

        using var stop = new CancellationTokenSource();
        var load = Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            var mine = new List<(HttpStatusCode, string?)>();
            while (!stop.IsCancellationRequested)
            {
                var r = await ChatLoad.SendAsync(client, key);
                mine.Add(r);
                // NOTE: a refusal under TRYAGAIN comes back at once: pace the retries as a client's backoff would.
                if (r.Status != HttpStatusCode.OK) await Task.Delay(20);
            }
            return mine;
        }));
        await Task.Delay(300);
        var moved = await cluster.MigrateSlotAsync("{acct:" + account + "}", pause: TimeSpan.FromMilliseconds(100));
        await Task.Delay(500);
        await stop.CancelAsync();
        foreach (var worker in await load) results.AddRange(worker);

        Assert.True(moved >= 8, $"only {moved} keys moved");
        Assert.All(results, r => Assert.Contains(r.Status, new[] { HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable }));
        var served = results.Where(r => r.Status == HttpStatusCode.OK).Select(r => r.RequestId!).ToList();
        Assert.True(served.Count > 20, $"only {served.Count} of {results.Count} served");
        // The load met the slot half moved: reserves refused then (TRYAGAIN) answered 503.
        Assert.Contains(results, r => r.Status == HttpStatusCode.ServiceUnavailable);
        var journal = gw.Services.GetRequiredService<SettleJournal>();
        Assert.True(await ChatLoad.EventuallyAsync(async () => journal.PendingCount == 0 && await gw.HeldMicrosAsync(account) == 0, TimeSpan.FromSeconds(20)),
            $"{journal.PendingCount} settles still queued after the migration");
        await BillingInvariant.AssertAsync(gw, account, 0, served, _ => ChatLoad.ChatCostMicros);
    }
}
