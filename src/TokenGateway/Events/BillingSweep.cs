using Microsoft.Extensions.Options;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Errors;

namespace TokenGateway.Events;

/// <summary>
/// Every <c>Billing:SweepSeconds</c>: applies grant and hold expiry to every account (correctness never
/// waits for it, but reports of idle accounts stay current) and queues the outbox events that are due —
/// retries, and events whose replica stopped before delivering them. Every replica sweeps; the scripts
/// make that harmless.
/// </summary>
internal sealed partial class BillingSweep(EventOutbox outbox, EventQueue queue, TimeProvider clock, IOptions<GatewayOptions> options, ILogger<BillingSweep> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.Billing.SweepSeconds), clock);
        do
        {
            try
            {
                foreach (var account in await outbox.AccountIdsAsync())
                {
                    foreach (var id in await outbox.SweepAsync(account)) queue.Enqueue(account, id);
                }
            }
            catch (Exception e) when (OpenAIError.IsBillingStoreFailure(e))
            {
                Log.SweepFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 310, Level = LogLevel.Warning, Message = "Billing sweep skipped: Redis unreachable")]
        public static partial void SweepFailed(ILogger logger, Exception exception);
    }
}
