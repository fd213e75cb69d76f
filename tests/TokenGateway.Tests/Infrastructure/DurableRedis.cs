using System.Diagnostics;
using StackExchange.Redis;
using TokenGateway.Testing;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>
/// A redis-server whose data survives a SIGKILL: append-only file fsynced on every write (<c>appendfsync always</c>),
/// restarted on the same port and directory, as a Redis pod with its volume comes back. For the fault tests that kill
/// Redis; the shared <see cref="RedisServer"/> fixture runs without persistence.
/// </summary>
public sealed class DurableRedis : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-durable-redis-").FullName;
    private Process? _process;

    public int Port { get; } = LoopbackPort.Free();
    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<DurableRedis> StartAsync()
    {
        var redis = new DurableRedis();
        await redis.RestartAsync();
        return redis;
    }

    /// <summary>SIGKILL: no shutdown, no final save; what the append-only file holds is what comes back.</summary>
    public void Kill()
    {
        if (_process is null) return;
        _process.Kill();
        _process.WaitForExit(5000);
        _process.Dispose();
        _process = null;
    }

    public async Task RestartAsync()
    {
        Kill();
        _process = Process.Start(new ProcessStartInfo("redis-server",
            ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", _dir,
                "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes"])
        {
            RedirectStandardOutput = true,
        })!;
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = await ConnectionMultiplexer.ConnectAsync($"{Configuration},connectTimeout=500");
                // NOTE: a server still loading its append-only file answers LOADING: ready means a write goes through.
                await probe.GetDatabase().PingAsync();
                if (probe.IsConnected) return;
            }
            catch (RedisException) when (deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
            }
            if (deadline.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException("redis-server did not come back within 10 s.");
            await Task.Delay(50);
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        Directory.Delete(_dir, recursive: true);
        return ValueTask.CompletedTask;
    }
}
