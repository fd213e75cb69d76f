using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;
using TokenGateway.Billing.Scripts;
using TokenGateway.Errors;
using TokenGateway.Redis;

namespace TokenGateway.Telemetry;

/// <summary>
/// <c>/readyz</c>: every Redis primary answers, and has every Lua script of the gateway (<see cref="BillingScripts.All"/>)
/// in its script cache. A missing one (Redis restarted, a new cluster node) is loaded here, so the first requests after
/// a restart do not each send the whole script.
/// </summary>
internal sealed partial class ReadinessCheck(RedisConnector redis, GatewayMetrics metrics, ILogger<ReadinessCheck> logger) : IHealthCheck
{
    public const string Path = "/readyz";

    /// <summary>200 "ready", or 503 with what is wrong, as plain text: what a probe or an operator with curl reads.</summary>
    public static readonly HealthCheckOptions Options = new()
    {
        ResponseWriter = (context, report) =>
        {
            context.Response.ContentType = "text/plain; charset=utf-8";
            return context.Response.WriteAsync(report.Entries.Values.FirstOrDefault().Description ?? report.Status.ToString());
        },
    };

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var multiplexer = await redis.Multiplexer;
            var primaries = 0;
            foreach (var server in multiplexer.GetServers())
            {
                if (server.IsReplica) continue;
                if (!server.IsConnected) return HealthCheckResult.Unhealthy("redis unreachable");
                primaries++;
                await server.PingAsync();
                foreach (var script in BillingScripts.All)
                {
                    if (!await server.ScriptExistsAsync(script)) await server.ScriptLoadAsync(script);
                }
            }
            return primaries == 0 ? HealthCheckResult.Unhealthy("redis unreachable") : HealthCheckResult.Healthy("ready");
        }
        catch (Exception e) when (OpenAIError.IsBillingStoreFailure(e))
        {
            metrics.RedisError("readiness");
            Log.NotReady(logger, e);
            return HealthCheckResult.Unhealthy("redis unreachable or scripts not loaded", e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 501, Level = LogLevel.Warning, Message = "Not ready: Redis error")]
        public static partial void NotReady(ILogger logger, Exception exception);
    }
}
