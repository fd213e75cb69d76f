using System.Diagnostics;
using StackExchange.Redis;

namespace TokenGateway.Testing;

/// <summary>
/// A throw-away redis-server on a free loopback port, without persistence, in a temporary folder removed
/// afterwards. Shared by the tests' fixture and the proxy benchmark (compiled into both projects).
/// </summary>
internal sealed class RedisProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    private RedisProcess(Process process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        Port = port;
    }

    public int Port { get; }
    public string Configuration => $"127.0.0.1:{Port}";
    public Process Process => _process;

    public static async Task<RedisProcess> StartAsync(CancellationToken ct = default)
    {
        var dir = Directory.CreateTempSubdirectory("tg-bench-redis-").FullName;
        var port = LoopbackPort.Free();
        var start = new ProcessStartInfo("redis-server",
            ["--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "yes"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Directory.Delete(dir, recursive: true);
            throw new InvalidOperationException("redis-server is not installed: run `apt-get install -y redis-server` (see .ci/run).", e);
        }
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        var redis = new RedisProcess(process, dir, port);
        try
        {
            await redis.WaitUntilReadyAsync(ct);
            return redis;
        }
        catch
        {
            await redis.DisposeAsync();
            throw;
        }
    }

    private async Task WaitUntilReadyAsync(CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                using var probe = await ConnectionMultiplexer.ConnectAsync($"{Configuration},connectTimeout=500");
                if (probe.IsConnected) return;
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException("redis-server did not start within 10 s.");
            await Task.Delay(50, ct);
        }
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        _process.Dispose();
        Directory.Delete(_dir, recursive: true);
        return ValueTask.CompletedTask;
    }
}
