using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using TokenGateway.Configuration;

namespace TokenGateway.Billing;

/// <summary>
/// The durable local queue of settles (and releases) Redis could not take when their request ended: Redis down,
/// stalled, full (OOM), or a cluster slot on the move (TRYAGAIN). <see cref="SettleReplay"/> settles them once Redis
/// accepts them again; settles are idempotent by request id (the settled marker), so a replay is always safe.
/// </summary>
/// <remarks>
/// One append-only file per process, <c>settles-&lt;store&gt;-&lt;guid&gt;.jsonl</c> in <c>Billing:SettleJournal:Directory</c>, held
/// with an exclusive lock (FileShare.None: flock on Linux) while the process lives. A line is a queued settle
/// (<c>seq</c>, <c>at_ms</c>, <c>settle</c>) or the acknowledgement of one (<c>ack</c>). Appends are fsynced once per
/// batch before the request ends; acknowledgements are not (a lost one only means one more idempotent replay). Once
/// everything in the file is acknowledged it is truncated (compaction). A file nobody holds belongs to a process that
/// stopped: the next gateway to start on the directory (or any replica sharing it, every minute) adopts it, replays
/// what it holds, and deletes it. <c>&lt;store&gt;</c> names the Redis the settles belong to (a hash of
/// <c>Redis:Configuration</c>): a gateway adopts only files of its own Redis, so gateways of different stores sharing a
/// directory (a developer machine's default temp directory, a benchmark beside a local gateway) never replay each
/// other's settles into the wrong Redis.
/// </remarks>
internal sealed partial class SettleJournal : IAsyncDisposable
{
    private const string Prefix = "settles-";
    private const string Extension = ".jsonl";

    private readonly string _directory;
    private readonly string _prefix;
    private readonly ILogger<SettleJournal> _logger;
    private readonly Lock _lock = new();
    private readonly JournalFile _own;
    private readonly List<JournalFile> _adopted = [];
    private readonly List<Queued> _pending = [];
    private readonly Channel<(SettleRequest Settle, DateTimeOffset At, TaskCompletionSource Durable)> _appends =
        Channel.CreateUnbounded<(SettleRequest, DateTimeOffset, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private long _nextSeq;

    public SettleJournal(IOptions<GatewayOptions> options, ILogger<SettleJournal> logger)
    {
        _directory = Path.GetFullPath(options.Value.Billing.SettleJournal.Directory);
        _logger = logger;
        Directory.CreateDirectory(_directory);
        _prefix = Prefix + StoreId(options.Value.Redis.Configuration) + "-";
        var path = Path.Combine(_directory, _prefix + Guid.NewGuid().ToString("N") + Extension);
        _own = new JournalFile(path, new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None));
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>A short name of the Redis the settles belong to; its configuration string may hold a password, so only a hash.</summary>
    internal static string StoreId(string redisConfiguration) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(redisConfiguration.Trim())))[..12];

    /// <summary>A settle waiting in the journal: <see cref="At"/> is when its request ended, the date of every attempt.</summary>
    internal sealed record Queued(SettleRequest Settle, DateTimeOffset At, long Seq, JournalFile File);

    internal sealed class JournalFile(string path, FileStream stream)
    {
        public string Path => path;
        public FileStream Stream => stream;
        public int Outstanding { get; set; }
    }

    /// <summary>Settles waiting for Redis, oldest first (a snapshot).</summary>
    public IReadOnlyList<Queued> Pending()
    {
        lock (_lock) return [.. _pending];
    }

    public int PendingCount
    {
        get { lock (_lock) return _pending.Count; }
    }

    /// <summary>Writes the settle to the journal; completes once it is on disk (fsync), so it survives the process.</summary>
    public Task AppendAsync(SettleRequest settle, DateTimeOffset at)
    {
        var durable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_appends.Writer.TryWrite((settle, at, durable))) durable.SetException(new ObjectDisposedException(nameof(SettleJournal)));
        return durable.Task;
    }

    /// <summary>Redis took the settle: it leaves the queue; a file with nothing left is compacted (own) or deleted (adopted).</summary>
    public void Acknowledge(Queued q)
    {
        lock (_lock)
        {
            if (!_pending.Remove(q)) return;
            q.File.Outstanding--;
            if (q.File == _own)
            {
                if (_own.Outstanding == 0) Compact();
                else WriteLine(_own.Stream, new JournalLine { Ack = q.Seq }, flushToDisk: false);
                return;
            }
            if (q.File.Outstanding > 0) return;
            // NOTE: deleted while still locked, so no other process adopts (and replays) it in between.
            File.Delete(q.File.Path);
            q.File.Stream.Dispose();
            _adopted.Remove(q.File);
        }
    }

    /// <summary>
    /// Takes over the journal files no process holds (their process stopped): what they hold joins the queue.
    /// Returns how many settles were adopted.
    /// </summary>
    public int AdoptOrphans()
    {
        var adopted = 0;
        foreach (var path in Directory.EnumerateFiles(_directory, _prefix + "*" + Extension))
        {
            lock (_lock)
            {
                if (path == _own.Path || _adopted.Any(f => f.Path == path)) continue;
            }
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // held by a live process (or gone meanwhile)
            }
            var file = new JournalFile(path, stream);
            var entries = Read(stream);
            lock (_lock)
            {
                foreach (var (seq, settle, at) in entries) _pending.Add(new Queued(settle, at, seq, file));
                file.Outstanding = entries.Count;
                if (entries.Count > 0) _adopted.Add(file);
            }
            if (entries.Count == 0)
            {
                File.Delete(path);
                stream.Dispose();
            }
            else Log.Adopted(_logger, entries.Count, path);
            adopted += entries.Count;
        }
        return adopted;
    }

    /// <summary>The settles of a file without their acknowledgement; a torn last line (the process died writing it) is skipped.</summary>
    private static List<(long Seq, SettleRequest Settle, DateTimeOffset At)> Read(FileStream stream)
    {
        var settles = new Dictionary<long, (SettleRequest, DateTimeOffset)>();
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, leaveOpen: true);
        while (reader.ReadLine() is { } line)
        {
            JournalLine? entry;
            try
            {
                entry = JsonSerializer.Deserialize(line, SettleJournalJson.Default.JournalLine);
            }
            catch (JsonException)
            {
                continue;
            }
            if (entry?.Ack is long ack) settles.Remove(ack);
            else if (entry is { Seq: long seq, Settle: { } settle, AtMs: long at }) settles[seq] = (settle, DateTimeOffset.FromUnixTimeMilliseconds(at));
        }
        return [.. settles.OrderBy(s => s.Key).Select(s => (s.Key, s.Value.Item1, s.Value.Item2))];
    }

    /// <summary>Group commit: whatever was appended meanwhile is written and fsynced at once.</summary>
    private async Task WriteLoopAsync()
    {
        var batch = new List<(SettleRequest Settle, DateTimeOffset At, TaskCompletionSource Durable)>();
        while (await _appends.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (_appends.Reader.TryRead(out var item)) batch.Add(item);
            try
            {
                lock (_lock)
                {
                    var queued = new List<Queued>(batch.Count);
                    foreach (var (settle, at, _) in batch)
                    {
                        var seq = ++_nextSeq;
                        WriteLine(_own.Stream, new JournalLine { Seq = seq, AtMs = at.ToUnixTimeMilliseconds(), Settle = settle }, flushToDisk: false);
                        queued.Add(new Queued(settle, at, seq, _own));
                    }
                    _own.Stream.Flush(flushToDisk: true);
                    _pending.AddRange(queued);
                    _own.Outstanding += queued.Count;
                }
                foreach (var item in batch) item.Durable.SetResult();
            }
            catch (Exception e)
            {
                Log.WriteFailed(_logger, e, _own.Path);
                foreach (var item in batch) item.Durable.TrySetException(e);
            }
        }
    }

    private void Compact()
    {
        _own.Stream.SetLength(0);
        _own.Stream.Flush(flushToDisk: true);
    }

    private static void WriteLine(FileStream stream, JournalLine line, bool flushToDisk)
    {
        stream.Seek(0, SeekOrigin.End);
        stream.Write(JsonSerializer.SerializeToUtf8Bytes(line, SettleJournalJson.Default.JournalLine));
        stream.WriteByte((byte)'\n');
        stream.Flush(flushToDisk);
    }

    /// <summary>Why <paramref name="directory"/> cannot hold the journal (for the options validator), or null.</summary>
    public static string? DirectoryProblem(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory)) return "is required (a directory that survives a restart, e.g. a volume).";
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, ".probe-" + Guid.NewGuid().ToString("N"));
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return $"'{directory}' must be a directory the gateway can create and write: {e.Message}";
        }
    }

    public async ValueTask DisposeAsync()
    {
        _appends.Writer.TryComplete();
        await _writer;
        lock (_lock)
        {
            var empty = _own.Outstanding == 0;
            _own.Stream.Dispose();
            // NOTE: a file with settles still waiting stays for the next gateway on this directory to replay.
            if (empty) File.Delete(_own.Path);
            foreach (var file in _adopted) file.Stream.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 222, Level = LogLevel.Warning, Message = "Adopted {Count} unsettled requests from the settle journal {Path} of a stopped gateway; replaying them")]
        public static partial void Adopted(ILogger logger, int count, string path);

        [LoggerMessage(EventId = 223, Level = LogLevel.Critical, Message = "Could not write the settle journal {Path}: settles Redis refused are not recorded")]
        public static partial void WriteFailed(ILogger logger, Exception exception, string path);
    }
}
