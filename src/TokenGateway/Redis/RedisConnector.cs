using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Configuration;

namespace TokenGateway.Redis;

/// <summary>
/// The process's one <see cref="IConnectionMultiplexer"/>, connected with <c>ConnectAsync</c> when the host starts.
/// </summary>
/// <remarks>
/// NOTE: handed out as a task rather than injected as a ready multiplexer: the client creates one only once its first
/// connect attempt ends, which takes up to <see cref="ConfigurationOptions.ConnectTimeout"/> (measured 0.1–4 s against a
/// closed port). Every consumer is built before the host starts (MeteredProxy when the routes are mapped, the background
/// services), so a multiplexer injected into constructors would hold up the start, and a lazy one the first request's
/// thread. Here the start only begins the connect, and the first Redis calls await it without blocking a thread.
/// </remarks>
internal sealed class RedisConnector(IOptions<GatewayOptions> options) : IHostedService, IAsyncDisposable
{
    private readonly Lazy<Task<IConnectionMultiplexer>> _connection = new(() => ConnectAsync(options.Value.Redis));

    public Task<IConnectionMultiplexer> Multiplexer => _connection.Value;

    public ValueTask<IDatabase> DatabaseAsync()
    {
        var connecting = _connection.Value;
        return connecting.IsCompletedSuccessfully ? new(connecting.Result.GetDatabase()) : WaitAsync(connecting);

        static async ValueTask<IDatabase> WaitAsync(Task<IConnectionMultiplexer> connecting) => (await connecting).GetDatabase();
    }

    /// <summary>
    /// The client settings the gateway decides, whatever the configuration string says (it may only shorten a timeout).
    /// </summary>
    public static ConfigurationOptions Configure(RedisOptions redis)
    {
        var config = ConfigurationOptions.Parse(redis.Configuration);
        // Start, and answer 503 billing_unavailable, while Redis is down; the client keeps reconnecting in the background.
        config.AbortOnConnectFail = false;
        // NOTE: RESP2 unless the configuration string asks for RESP3. The gateway uses nothing RESP3 adds (no pub/sub or
        // client-side caching of its own; a Lua reply decodes the same), and RESP2 is what every Redis version, proxy and
        // managed service speaks: 3.x would otherwise send HELLO 3, which some of them reject.
        config.Protocol ??= RedisProtocol.Resp2;
        config.ConnectTimeout = Math.Min(config.ConnectTimeout, 2000);
        // NOTE: one deadline for every call (Redis:TimeoutMilliseconds, 1 s by default; the string may only shorten it), so
        // a Redis that is down or stalled costs a request about that long, then a 503 (billing_unavailable), never a hung
        // request. Both are set: 3.x's AsyncTimeout follows SyncTimeout (5 s by default), and a command issued while
        // disconnected waits in the backlog for SyncTimeout, not AsyncTimeout (measured on 3.4.35). Timeouts are checked
        // on the 1 s heartbeat, so a stalled call fails within the deadline plus up to a second. A healthy call takes
        // well under a millisecond.
        config.SyncTimeout = Math.Min(config.SyncTimeout, redis.TimeoutMilliseconds);
        config.AsyncTimeout = Math.Min(config.AsyncTimeout, redis.TimeoutMilliseconds);
        return config;
    }

    private static async Task<IConnectionMultiplexer> ConnectAsync(RedisOptions redis) =>
        await ConnectionMultiplexer.ConnectAsync(Configure(redis));

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = _connection.Value;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        // NOTE: a connect still in progress is awaited (at most ConnectTimeout), so its multiplexer is closed too.
        if (_connection.IsValueCreated) await (await _connection.Value).DisposeAsync();
    }
}
