using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Errors;
using TokenGateway.Telemetry;

namespace TokenGateway.Metering;

/// <summary>
/// Every <c>Metering:HeartbeatSeconds</c>, renews the lease of every hold of this replica's in-flight requests and
/// records what each has consumed so far: one heartbeat.lua call per account, all sent at once (pipelined on the one
/// connection). So a lease ends only when its replica stopped beating (died, or lost Redis for longer than the lease),
/// and then the hold is charged what the last beat recorded (prelude.lua, release_expired_holds) instead of released.
/// </summary>
internal sealed partial class HoldHeartbeat(BillingStore billing, GatewayMetrics metrics, IOptions<GatewayOptions> options, TimeProvider clock, ILogger<HoldHeartbeat> logger)
    : BackgroundService
{
    private readonly ConcurrentDictionary<HeldRequest, byte> _inFlight = new();

    public void Add(HeldRequest request) => _inFlight.TryAdd(request, 0);

    public void Remove(HeldRequest request) => _inFlight.TryRemove(request, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.Metering.HeartbeatSeconds), clock);
        while (await timer.WaitForNextTickAsync(stoppingToken)) await BeatAsync();
    }

    /// <summary>One beat for every in-flight request; an account whose call fails is tried again at the next beat.</summary>
    internal async Task BeatAsync()
    {
        var marker = billing.SettledMarkerLifetime;
        var byAccount = _inFlight.Keys.GroupBy(r => r.AccountId, StringComparer.Ordinal);
        await Task.WhenAll(byAccount.Select(async account =>
        {
            try
            {
                var holds = account.Select(r => r.Consumption(marker)).ToList();
                await billing.HeartbeatAsync(account.Key, holds);
            }
            catch (Exception e)
            {
                // NOTE: whatever fails (Redis, or pricing a request's consumption), the next beat tries again; a background
                // service that throws would stop the host.
                if (OpenAIError.IsBillingStoreFailure(e)) metrics.RedisError("heartbeat");
                Log.BeatFailed(logger, e, account.Key);
            }
        }));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 226, Level = LogLevel.Warning, Message = "Heartbeat of the in-flight requests of account {AccountId} failed; retried at the next beat, before their leases end")]
        public static partial void BeatFailed(ILogger logger, Exception exception, string accountId);
    }
}
