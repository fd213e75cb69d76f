using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Metering;
using TokenGateway.Pricing;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Billing;

/// <summary>The settle journal's file: durable appends, compaction, adoption of a stopped process's file, torn lines, validation.</summary>
public sealed class SettleJournalTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"tokengateway-journal-test-{Guid.NewGuid():N}");

    private SettleJournal Open(string redis = "127.0.0.1:6379") =>
        new(Options.Create(new GatewayOptions
        {
            Redis = new RedisOptions { Configuration = redis },
            Billing = new BillingOptions { SettleJournal = new SettleJournalOptions { Directory = _dir } },
        }), NullLogger<SettleJournal>.Instance);

    private static SettleRequest Settle(string id, long micros) =>
        new("acct1", "key1", id, "gpt-4o", new Charge(micros, [new LineItem("input", 40, 2_500_000m)]), new TokenUsage(40, 0, 12) { ServiceTier = "default" });

    private static readonly DateTimeOffset At = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Appended_IsOnDiskAtOnce_AndAcknowledgedAll_TheFileIsCompacted()
    {
        await using var journal = Open();
        await journal.AppendAsync(Settle("req_1", 220), At);
        await journal.AppendAsync(Settle("req_2", 330), At);
        var file = Assert.Single(Directory.GetFiles(_dir, "settles-*.jsonl"));
        // NOTE: the file is locked (FileShare.None) while its process lives: only its size can be read here.
        var appended = new FileInfo(file).Length;
        Assert.True(appended > 100);

        var pending = journal.Pending();
        Assert.Equal(["req_1", "req_2"], pending.Select(p => p.Settle.RequestId));
        journal.Acknowledge(pending[0]);
        Assert.True(new FileInfo(file).Length > appended); // the acknowledgement line
        journal.Acknowledge(pending[1]);
        Assert.Equal(0, new FileInfo(file).Length);
    }

    [Fact]
    public async Task FileOfAStoppedProcess_IsAdoptedWithWhatIsNotAcknowledged_AndDeletedWhenReplayed()
    {
        var first = Open();
        await first.AppendAsync(Settle("req_1", 220), At);
        await first.AppendAsync(Settle("req_2", 330), At);
        first.Acknowledge(first.Pending()[0]);

        await using var second = Open();
        // The first process still holds its file: not adopted.
        Assert.Equal(0, second.AdoptOrphans());
        await first.DisposeAsync();
        Assert.Equal(1, second.AdoptOrphans());
        var adopted = Assert.Single(second.Pending());
        Assert.Equal(Settle("req_2", 330) with { Charge = adopted.Settle.Charge }, adopted.Settle);
        Assert.Equal(330, adopted.Settle.Charge.Micros);
        Assert.Equal(Settle("req_2", 330).Charge.Lines, adopted.Settle.Charge.Lines);
        Assert.Equal(At, adopted.At);

        second.Acknowledge(adopted);
        // Only the second process's own (empty) file is left.
        Assert.Equal(0, new FileInfo(Assert.Single(Directory.GetFiles(_dir, "settles-*.jsonl"))).Length);
    }

    [Fact]
    public async Task FileOfAnotherRedis_InTheSameDirectory_IsNeverAdopted()
    {
        var other = Open("127.0.0.1:7000,password=secret");
        await other.AppendAsync(Settle("req_other", 220), At);
        await other.DisposeAsync();

        await using var mine = Open();
        Assert.Equal(0, mine.AdoptOrphans());
        Assert.Empty(mine.Pending());
        // The other store's file stays for a gateway of that store, and its name says nothing of the password.
        var files = Directory.GetFiles(_dir, "settles-*.jsonl");
        Assert.Equal(2, files.Length);
        Assert.DoesNotContain(files, f => f.Contains("secret", StringComparison.Ordinal));
        await using var ofThatStore = Open("127.0.0.1:7000,password=secret");
        Assert.Equal(1, ofThatStore.AdoptOrphans());
        Assert.Equal("req_other", Assert.Single(ofThatStore.Pending()).Settle.RequestId);
    }

    [Fact]
    public async Task TornLastLine_OfAProcessThatDiedWritingIt_IsSkipped()
    {
        var first = Open();
        await first.AppendAsync(Settle("req_1", 220), At);
        await first.DisposeAsync();
        var file = Assert.Single(Directory.GetFiles(_dir, "settles-*.jsonl"));
        await File.AppendAllTextAsync(file, """{"seq":2,"at_ms":17""");

        await using var second = Open();
        Assert.Equal(1, second.AdoptOrphans());
        Assert.Equal("req_1", Assert.Single(second.Pending()).Settle.RequestId);
    }

    [Theory]
    [InlineData("Billing:SettleJournal:Directory", "/proc/tokengateway-cannot-write-here")]
    [InlineData("Billing:SettleJournal:ReplayMilliseconds", "0")]
    [InlineData("Metering:HeartbeatSeconds", "301")] // above a third of Metering:HoldTtlSeconds (900)
    [InlineData("Metering:HeartbeatSeconds", "0")]
    public async Task JournalAndHeartbeatSettings_AreValidatedAtStart(string setting, string value)
    {
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            GatewayHost.StartAsync("127.0.0.1:1", new Dictionary<string, string> { [setting] = value }));
        Assert.Contains("TokenGateway:" + setting, e.Message);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }
}
