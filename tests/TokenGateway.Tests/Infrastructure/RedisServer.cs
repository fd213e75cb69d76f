using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>A real redis-server on a free loopback port, in a temporary folder removed afterwards.</summary>
public sealed class RedisServer : IAsyncLifetime
{
    private Process? _process;
    private string? _dir;

    public int Port { get; private set; }
    public string Configuration => $"127.0.0.1:{Port}";

    public async Task InitializeAsync()
    {
        _dir = Directory.CreateTempSubdirectory("tg-redis-").FullName;
        Port = FreePort();
        var start = new ProcessStartInfo("redis-server",
            ["--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _dir, "--protected-mode", "yes"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        try
        {
            _process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server is not installed: run `apt-get install -y redis-server` (see .ci/run).", e);
        }
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
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
            await Task.Delay(50);
        }
    }

    public Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        _process?.Dispose();
        if (_dir is not null) Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
