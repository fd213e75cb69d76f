using TokenGateway.Testing;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>A real redis-server per test class (an xunit fixture over <see cref="RedisProcess"/>).</summary>
public sealed class RedisServer : IAsyncLifetime
{
    private RedisProcess? _redis;

    /// <summary>0 until started, so a never-started fixture names a port nothing listens on (Redis-down tests).</summary>
    public int Port => _redis?.Port ?? 0;
    public string Configuration => $"127.0.0.1:{Port}";

    public async Task InitializeAsync() => _redis = await RedisProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_redis is not null) await _redis.DisposeAsync();
    }

    public static int FreePort() => LoopbackPort.Free();
}
