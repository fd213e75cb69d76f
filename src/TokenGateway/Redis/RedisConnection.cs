using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Configuration;

namespace TokenGateway.Redis;

/// <summary>The one shared multiplexer of the process. Connects lazily and keeps retrying, so the
/// gateway starts (and answers 503 billing_unavailable) while Redis is down.</summary>
internal sealed class RedisConnection : IDisposable
{
    private readonly Lazy<ConnectionMultiplexer> _multiplexer;

    public RedisConnection(IOptions<GatewayOptions> options)
    {
        var config = ConfigurationOptions.Parse(options.Value.Redis.Configuration);
        config.AbortOnConnectFail = false;
        config.ConnectTimeout = Math.Min(config.ConnectTimeout, 2000);
        config.SyncTimeout = Math.Min(config.SyncTimeout, 2000);
        _multiplexer = new Lazy<ConnectionMultiplexer>(() => ConnectionMultiplexer.Connect(config));
    }

    public IDatabase Database => _multiplexer.Value.GetDatabase();

    /// <summary>For server-level commands (the readiness check's SCRIPT EXISTS / SCRIPT LOAD on every primary).</summary>
    public ConnectionMultiplexer Multiplexer => _multiplexer.Value;

    public void Dispose()
    {
        if (_multiplexer.IsValueCreated) _multiplexer.Value.Dispose();
    }
}
