using System.Net;
using Microsoft.Extensions.DependencyInjection;
using TokenGateway.Billing;
using TokenGateway.MockUpstream;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Faults;

/// <summary>
/// Redis killed (SIGKILL, its append-only file fsynced on every write, so its data survives) while 60 requests are
/// between their reserve and their settle, and back 5 s later on the same port: the settles Redis could not take wait
/// in the settle journal and are replayed once it is back, each charged once; also when the gateway itself is stopped
/// during the outage and a new one starts on the same journal directory.
/// </summary>
[Collection(SoloFaultCollection.Name)]
public sealed class RedisKillTests
{
    private const int Requests = 60;

    [Fact]
    public async Task RedisKilledWhile60RequestsAreUpstream_AllChargedOnceAfterItReturns()
    {
        await using var redis = await DurableRedis.StartAsync();
        await using var gw = await GatewayHost.StartAsync(redis.Configuration, upstream: new MockUpstreamOptions { Delay = TimeSpan.FromSeconds(2) });
        var account = "kill-" + Guid.NewGuid().ToString("N")[..8];
        var key = await gw.FundedKeyAsync(account, 10m);

        var answers = await RunThroughOutageAsync(gw, redis, key, restartWhile: () => Task.CompletedTask);

        var journal = gw.Services.GetRequiredService<SettleJournal>();
        Assert.True(await ChatLoad.EventuallyAsync(async () => journal.PendingCount == 0 && await gw.HeldMicrosAsync(account) == 0, TimeSpan.FromSeconds(20)),
            $"{journal.PendingCount} settles still queued 20 s after Redis came back");
        await BillingInvariant.AssertAsync(gw, account, 0, answers, _ => ChatLoad.ChatCostMicros);
        Assert.Equal(10_000_000 - Requests * ChatLoad.ChatCostMicros, await gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task RedisKilledAndGatewayRestartedDuringTheOutage_TheNewGatewayReplaysTheJournal()
    {
        await using var redis = await DurableRedis.StartAsync();
        var journalDir = Path.Combine(Path.GetTempPath(), $"tokengateway-journal-{Guid.NewGuid():N}");
        var settings = new Dictionary<string, string> { [GatewayHost.JournalSetting] = journalDir };
        try
        {
            await using var upstream = await MockUpstreamServer.StartAsync(new MockUpstreamOptions { Delay = TimeSpan.FromSeconds(2) }, https: true);
            var account = "kill-" + Guid.NewGuid().ToString("N")[..8];
            string key;
            IReadOnlyList<string> answers;
            var first = await GatewayHost.StartAsync(redis.Configuration, settings, sharedUpstream: upstream);
            key = await first.FundedKeyAsync(account, 10m);
            // The first gateway stops while Redis is still down: its queued settles stay in its journal file.
            answers = await RunThroughOutageAsync(first, redis, key, restartWhile: async () => await first.DisposeAsync());
            Assert.Single(Directory.GetFiles(journalDir, "settles-*.jsonl"));

            await using var second = await GatewayHost.StartAsync(redis.Configuration, settings, sharedUpstream: upstream);
            var journal = second.Services.GetRequiredService<SettleJournal>();
            Assert.True(await ChatLoad.EventuallyAsync(async () => journal.PendingCount == 0 && await second.HeldMicrosAsync(account) == 0, TimeSpan.FromSeconds(20)),
                $"{journal.PendingCount} settles still queued 20 s after the new gateway started");
            await BillingInvariant.AssertAsync(second, account, 0, answers, _ => ChatLoad.ChatCostMicros);
            // The adopted file, replayed to the end, is gone; the new gateway's own is empty.
            Assert.All(Directory.GetFiles(journalDir, "settles-*.jsonl"), f => Assert.Equal(0, new FileInfo(f).Length));
        }
        finally
        {
            if (Directory.Exists(journalDir)) Directory.Delete(journalDir, recursive: true);
        }
    }

    /// <summary>
    /// Sends 60 requests; once the mock holds all 60 (reserved, upstream for 2 s), kills Redis; once all are answered,
    /// runs <paramref name="restartWhile"/> and brings Redis back 5 s after the kill. Returns the served request ids.
    /// </summary>
    private static async Task<IReadOnlyList<string>> RunThroughOutageAsync(GatewayHost gw, DurableRedis redis, string key, Func<Task> restartWhile)
    {
        var upstreamBefore = gw.Upstream.Requests.Count;
        using var client = ChatLoad.Client(gw);
        var sending = Task.WhenAll(Enumerable.Range(0, Requests).Select(_ => ChatLoad.SendAsync(client, key)));
        Assert.True(await ChatLoad.EventuallyAsync(() => Task.FromResult(gw.Upstream.Requests.Count - upstreamBefore == Requests), TimeSpan.FromSeconds(20)),
            "the 60 requests did not all reach the upstream");
        var killed = DateTime.UtcNow;
        redis.Kill();

        var results = await sending;
        // Served: the upstream answered and the client got it, though no settle could reach Redis.
        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        // ... and each settle waits in the journal (on disk), none was dropped.
        Assert.Equal(Requests, gw.Services.GetRequiredService<SettleJournal>().PendingCount);
        await restartWhile();
        var down = DateTime.UtcNow - killed;
        if (down < TimeSpan.FromSeconds(5)) await Task.Delay(TimeSpan.FromSeconds(5) - down);
        await redis.RestartAsync();
        return [.. results.Select(r => r.RequestId!)];
    }
}
