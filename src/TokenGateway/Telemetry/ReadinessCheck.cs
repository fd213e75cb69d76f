using StackExchange.Redis;
using TokenGateway.Redis;

namespace TokenGateway.Telemetry;

/// <summary>
/// <c>/readyz</c>: every Redis primary answers, and has every Lua script of the gateway (<see cref="RedisScript.All"/>)
/// in its script cache — a missing one (Redis restarted, a new cluster node) is loaded here, so the
/// first requests after a restart do not each pay the EVAL fallback.
/// </summary>
internal sealed partial class ReadinessCheck(RedisConnection redis, GatewayMetrics metrics, ILogger<ReadinessCheck> logger)
{
    public async Task<IResult> CheckAsync()
    {
        try
        {
            var multiplexer = redis.Multiplexer;
            var scripts = RedisScript.All.DistinctBy(s => Convert.ToHexString(s.Sha1)).ToList();
            var primaries = 0;
            foreach (var endpoint in multiplexer.GetEndPoints())
            {
                var server = multiplexer.GetServer(endpoint);
                if (server.IsReplica) continue;
                if (!server.IsConnected) return Results.Text("redis unreachable", statusCode: StatusCodes.Status503ServiceUnavailable);
                primaries++;
                await server.PingAsync();
                foreach (var script in scripts)
                {
                    if (!await server.ScriptExistsAsync(script.Sha1.ToArray())) await server.ScriptLoadAsync(script.Text);
                }
            }
            return primaries == 0
                ? Results.Text("redis unreachable", statusCode: StatusCodes.Status503ServiceUnavailable)
                : Results.Text("ready");
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            metrics.RedisError("readiness");
            Log.NotReady(logger, e.GetType().Name);
            return Results.Text("redis unreachable or scripts not loaded", statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 501, Level = LogLevel.Warning, Message = "Not ready: Redis error ({Error})")]
        public static partial void NotReady(ILogger logger, string error);
    }
}
