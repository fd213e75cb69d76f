using System.Globalization;
using System.Text;
using TokenGateway.Metering;
using TokenGateway.MockUpstream;
using TokenGateway.Tests.Infrastructure;
using TokenGateway.Tokenizers;

namespace TokenGateway.Tests.Faults;

/// <summary>
/// Leases under streams: a replica SIGKILLed during 20 streams leaves holds nobody settles; when their leases end they
/// are charged what the replica's last heartbeat recorded (not released for free). And a 5 s lease under 20 s streams
/// never ends while they live: the heartbeat renews it, so the room they hold is never admitted twice.
/// </summary>
[Collection(SoloFaultCollection.Name)]
public sealed class ReplicaKillTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const int Streams = 20;
    private const string Prompt = """{"model":"gpt-4o","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"go"}]}""";

    private static readonly Dictionary<string, string> Leases = new()
    {
        ["Metering:HoldTtlSeconds"] = "5",
        ["Metering:HeartbeatSeconds"] = "1",
        ["Billing:SweepSeconds"] = "1",
    };

    /// <summary>gpt-4o: $2.50 / $10 per million input / output tokens, one rounding up.</summary>
    private static long Cost(long input, long output) => (long)Math.Ceiling(input * 2.5m + output * 10m);

    [Fact]
    public async Task ReplicaKilledDuring20Streams_EachHoldIsChargedWhatItDeliveredByTheLastHeartbeat()
    {
        var release = new TaskCompletionSource();
        // The role chunk, then 10 deltas; then the mock waits (the streams stay open) until the test ends.
        await using var upstream = await MockUpstreamServer.StartAsync(new MockUpstreamOptions { CompletionTokens = 100, HoldStream = release.Task, HoldAfterEvents = 11 }, https: true);
        await using var survivor = await GatewayHost.StartAsync(redis, Leases, sharedUpstream: upstream);
        var ca = Path.Combine(Path.GetTempPath(), $"tokengateway-mock-ca-{Guid.NewGuid():N}.pem");
        var journal = Path.Combine(Path.GetTempPath(), $"tokengateway-journal-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(ca, upstream.CertificatePem);
        try
        {
            await using var doomed = await GatewayProcess.StartAsync(new Dictionary<string, string>(Leases)
            {
                ["Redis:Configuration"] = redis.Configuration,
                ["Upstream:BaseUrl"] = upstream.BaseUrl,
                ["Upstream:CaCertificateFile"] = ca,
                ["Upstream:ApiKey"] = GatewayHost.UpstreamKey,
                ["Admin:Token"] = GatewayHost.AdminToken,
                [GatewayHost.JournalSetting] = journal,
            });
            var account = "sigkill-" + Guid.NewGuid().ToString("N")[..8];
            var key = await survivor.FundedKeyAsync(account, 10m);
            using var client = ChatLoad.Client(doomed.BaseUrl);
            var streams = HeldStream.Start(client, key, Streams, maxTokens: 100);
            Assert.True(await ChatLoad.EventuallyAsync(() => Task.FromResult(streams.All(s => s.Deltas == 10)), TimeSpan.FromSeconds(20)),
                $"deltas received: {string.Join(",", streams.Select(s => s.Deltas))}");
            // Two heartbeats (1 s apart) after the last delta: the latest record holds all 10.
            await Task.Delay(2500);
            var heldBefore = await survivor.HeldMicrosAsync(account);
            doomed.Kill();
            Assert.All(await Task.WhenAll(streams.Select(s => s.Completion)), status => Assert.Equal(0, status));
            Assert.Equal(Streams * Cost(Bound(), 100), heldBefore);

            // The survivor's sweep (every second) applies the leases' end, 5 s after the last beat.
            Assert.True(await ChatLoad.EventuallyAsync(async () => await survivor.HeldMicrosAsync(account) == 0, TimeSpan.FromSeconds(20)), "holds left 20 s after the kill");
            // What each delivered: the input (the local count, as for a cut stream) and the 10 deltas "w0 w1 … w9".
            var input = LocalCount();
            var output = TiktokenTokenizer.CreateForModel("gpt-4o").CountTokens(string.Join(" ", Enumerable.Range(0, 10).Select(i => "w" + i)));
            await BillingInvariant.AssertAsync(survivor, account, 0, [.. streams.Select(s => s.RequestId!)], debit =>
            {
                Assert.Equal("1", debit.GetProperty("lease_expired").GetString());
                Assert.Equal(input, debit.GetProperty("input_tokens").GetInt64());
                Assert.Equal(output, debit.GetProperty("output_tokens").GetInt64());
                return Cost(input, output);
            });
            Assert.True(Cost(input, output) > 0);
        }
        finally
        {
            release.TrySetResult();
            File.Delete(ca);
            if (Directory.Exists(journal)) Directory.Delete(journal, recursive: true);
        }
    }

    [Fact]
    public async Task FiveSecondLeaseUnder20SecondStreams_NeverEnds_AndTheBalanceStaysAboveOverdraft()
    {
        var settings = new Dictionary<string, string>(Leases) { ["Billing:MinimumTopUpUsd"] = "0.01" };
        var release = new TaskCompletionSource();
        await using var gw = await GatewayHost.StartAsync(redis, settings, upstream: new MockUpstreamOptions { CompletionTokens = 30, HoldStream = release.Task, HoldAfterEvents = 6 });
        var account = "lease-" + Guid.NewGuid().ToString("N")[..8];
        var key = await gw.FundedKeyAsync(account, 0.01m);
        // Each stream holds its bound's input (65 tokens: 163 µ$) + 30 × 10 = 463 µ$: 20 fit in $0.01 (9,260 µ$), with
        // 740 µ$ of room left for other requests (a hold of 283 µ$ with max_tokens 12, a charge of 220).
        using var client = ChatLoad.Client(gw);
        var streams = HeldStream.Start(client, key, Streams, maxTokens: 30);
        Assert.True(await ChatLoad.EventuallyAsync(() => Task.FromResult(streams.All(s => s.Deltas == 5)), TimeSpan.FromSeconds(20)),
            $"deltas: {string.Join(",", streams.Select(s => s.Deltas))}; ended: {string.Join(",", streams.Where(s => s.Completion.IsCompleted).Select(s => s.Completion.Result))}");
        var held = Streams * Cost(Bound(), 30);
        Assert.Equal(held, await gw.HeldMicrosAsync(account));

        var extras = new List<(System.Net.HttpStatusCode Status, string? RequestId)>();
        for (var second = 0; second < 20; second += 4)
        {
            await Task.Delay(TimeSpan.FromSeconds(4));
            // Four leases' worth of time later (with the sweep every second), every hold is still there...
            Assert.Equal(held, await gw.HeldMicrosAsync(account));
            // ... so the room they hold is not admitted again: at most what was left besides them.
            extras.AddRange(await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => ChatLoad.SendAsync(client, key))));
        }
        // The extras (220 µ$ each once settled) spent at most the 740 µ$ of room the streams left: 3 of them.
        Assert.True(extras.Count(e => e.Status == System.Net.HttpStatusCode.OK) * ChatLoad.ChatCostMicros <= 10_000 - held,
            $"extras: {string.Join(",", extras.Select(e => (int)e.Status))}");
        release.SetResult();
        Assert.All(await Task.WhenAll(streams.Select(s => s.Completion)), status => Assert.Equal(200, status));
        Assert.All(streams, s => Assert.Equal(30, s.Deltas));

        Assert.True(await ChatLoad.EventuallyAsync(async () => await gw.HeldMicrosAsync(account) == 0, TimeSpan.FromSeconds(10)));
        var served = streams.Select(s => s.RequestId!).Concat(extras.Where(e => e.Status == System.Net.HttpStatusCode.OK).Select(e => e.RequestId!)).ToList();
        await BillingInvariant.AssertAsync(gw, account, 0, served, debit =>
        {
            Assert.False(debit.TryGetProperty("lease_expired", out _));
            return Cost(debit.GetProperty("input_tokens").GetInt64(), debit.GetProperty("output_tokens").GetInt64());
        });
    }

    private static long Bound() => InputTokenBound.Count("gpt-4o", Encoding.UTF8.GetBytes(Prompt));

    private static long LocalCount()
    {
        var bytes = Encoding.UTF8.GetBytes(Prompt);
        return InputTokenCounter.Count(RequestInspector.Inspect(MeteredEndpoint.ChatCompletions, bytes).Request!, bytes);
    }
}
