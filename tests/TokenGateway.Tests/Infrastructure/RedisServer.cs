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

    public async Task DisposeAsync()
    {
        if (_redis is not null) await _redis.DisposeAsync();
    }

    public static int FreePort() => LoopbackPort.Free();
}
