using TokenGateway.Testing;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>A real redis-server per test class (an xunit fixture over <see cref="RedisProcess"/>).</summary>
public sealed class RedisServer : IAsyncLifetime
{
    private RedisProcess? _redis;

    // NOTE: not 0: StackExchange.Redis reads port 0 as the default 6379, where a developer's Redis may well run.
    private readonly int _unusedPort = LoopbackPort.Free();

    /// <summary>Until started, a free port nothing listens on, so a never-started fixture is a Redis that is down.</summary>
    public int Port => _redis?.Port ?? _unusedPort;
    public string Configuration => $"127.0.0.1:{Port}";

    public async Task InitializeAsync() => _redis = await RedisProcess.StartAsync();

    /// <summary>Freezes the server (SIGSTOP) until the result is disposed (SIGCONT): a stalled Redis, connections left open.</summary>
    public IDisposable Stall()
    {
        var pid = _redis!.Process.Id;
        Signal("-STOP", pid);
        return new Resume(() => Signal("-CONT", pid));
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    private sealed class Resume(Action resume) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) resume();
        }
    }

    public async Task DisposeAsync()
    {
        if (_redis is not null) await _redis.DisposeAsync();
    }

    public static int FreePort() => LoopbackPort.Free();
}
