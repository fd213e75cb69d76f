using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Errors;

namespace TokenGateway.Events;

/// <summary>
/// Every <c>Billing:SweepSeconds</c>: applies grant and hold expiry and ledger retention to every account
/// (correctness never waits for it, but reports of idle accounts stay current and their ledgers bounded) and
/// queues the outbox events that are due — retries, and events whose replica stopped before delivering them.
/// Every replica sweeps; the scripts make that harmless. Each account is swept on its own: one that fails (a
/// script error on its data, a timeout) is logged and the sweep goes on with the next.
/// </summary>
internal sealed partial class BillingSweep(EventOutbox outbox, EventQueue queue, TimeProvider clock, IOptions<GatewayOptions> options, ILogger<BillingSweep> logger)
    : BackgroundService
{
    /// <summary>
    /// Accounts in a row failing because Redis cannot be reached (no connection, past the deadline) after which the
    /// rest of the round is left to the next one: Redis is down or stalled, not one account. Low enough that a stalled
    /// Redis costs a few deadlines per round, high enough that the accounts of one failed cluster node (a third of
    /// them with three primaries) never stop the others'.
    /// </summary>
    private const int UnreachableInARow = 10;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.Billing.SweepSeconds), clock);
        do
        {
            await SweepAllAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task SweepAllAsync(CancellationToken stoppingToken)
    {
        IReadOnlyList<string> accounts;
        try
        {
            accounts = await outbox.AccountIdsAsync();
        }
        catch (Exception e) when (OpenAIError.IsBillingStoreFailure(e))
        {
            Log.SweepFailed(logger, e);
            return;
        }
        var unreachable = 0;
        foreach (var account in accounts)
        {
            stoppingToken.ThrowIfCancellationRequested();
            try
            {
                foreach (var id in await outbox.SweepAsync(account)) queue.Enqueue(account, id);
                unreachable = 0;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.AccountFailed(logger, e, account);
                // NOTE: a server error (e.g. WRONGTYPE from the account's own keys) is that account's; only failures to
                // reach Redis count towards giving up the round.
                unreachable = e is RedisConnectionException or TimeoutException ? unreachable + 1 : 0;
                if (unreachable >= UnreachableInARow)
                {
                    Log.SweepFailed(logger, e);
                    return;
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 310, Level = LogLevel.Warning, Message = "Billing sweep skipped: Redis unreachable")]
        public static partial void SweepFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 311, Level = LogLevel.Error, Message = "Billing sweep of account {AccountId} failed; the sweep goes on with the other accounts")]
        public static partial void AccountFailed(ILogger logger, Exception exception, string accountId);
    }
}
