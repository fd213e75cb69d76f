using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Configuration;
using TokenGateway.Errors;
using TokenGateway.Telemetry;

namespace TokenGateway.Billing;

/// <summary>
/// Settles what the <see cref="SettleJournal"/> holds, every <c>Billing:SettleJournal:ReplayMilliseconds</c> until
/// Redis accepts each; at start-up it first adopts the journals of stopped gateways on the same directory.
/// </summary>
/// <remarks>
/// A replay is safe while the request's settled marker lives (<c>Billing:Retention:SettleMarkerSeconds</c>, 30 min by
/// default): a settle Redis took (its answer lost) is found there and charges nothing. A replay can come later (Redis
/// down for longer, a journal adopted after a long stop): every attempt of a settle is dated when its request ended, so
/// a debit it wrote has a ledger id at or after that date. A settle older than half the marker's lifetime first looks
/// for its request id in the ledger from that date on, and is acknowledged without settling when it is there. That
/// read is not atomic with the settle, but nothing else settles that request by then: its own attempts ended within
/// the Redis deadline, long before. (Raising the marker's lifetime to the longest possible outage instead would keep a
/// marker per request that long.)
/// </remarks>
internal sealed partial class SettleReplay(SettleJournal journal, BillingStore billing, GatewayMetrics metrics, IOptions<GatewayOptions> options, ILogger<SettleReplay> logger)
    : BackgroundService
{
    private const int LedgerPage = 1000;
    private static readonly TimeSpan AdoptEvery = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Adopt();
        var lastAdopt = billing.Now;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.Billing.SettleJournal.ReplayMilliseconds));
        do
        {
            if (billing.Now - lastAdopt >= AdoptEvery)
            {
                lastAdopt = billing.Now;
                Adopt();
            }
            await ReplayAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private void Adopt()
    {
        try
        {
            journal.AdoptOrphans();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.AdoptFailed(logger, e);
        }
    }

    /// <summary>One pass over the queue; stops at the first failure to reach Redis (down or stalled: the next pass retries).</summary>
    internal async Task ReplayAsync(CancellationToken stoppingToken)
    {
        foreach (var queued in journal.Pending())
        {
            stoppingToken.ThrowIfCancellationRequested();
            try
            {
                if (!await DebitedAfterMarkerAsync(queued)) await billing.SettleAsync(queued.Settle, queued.At);
                journal.Acknowledge(queued);
                metrics.SettleReplayed();
                Log.Replayed(logger, queued.Settle.RequestId, queued.Settle.AccountId, queued.Settle.CostMicros);
            }
            catch (Exception e) when (OpenAIError.IsBillingStoreFailure(e))
            {
                metrics.RedisError("settle_replay");
                Log.ReplayFailed(logger, queued.Settle.RequestId, queued.Settle.AccountId, e.Message);
                // NOTE: TRYAGAIN (a slot on the move), OOM or a script error are about one account or one moment: the
                // others are still tried. No connection or no answer is about Redis: the next pass tries again.
                if (e is RedisConnectionException or TimeoutException or RedisTimeoutException) return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // NOTE: kept in the journal and tried again: a background service that throws would stop the host.
                Log.ReplayError(logger, e, queued.Settle.RequestId, queued.Settle.AccountId);
            }
        }
    }

    /// <summary>For a settle replayed past half its marker's lifetime: whether its debit is already in the ledger.</summary>
    private async Task<bool> DebitedAfterMarkerAsync(SettleJournal.Queued queued)
    {
        if (queued.Settle.CostMicros <= 0 || billing.Now - queued.At < billing.SettledMarkerLifetime / 2) return false;
        // NOTE: "(<ms - 1>-<max seq>" is an exclusive start: the first entry dated at or after the request's end.
        string? after = (queued.At.ToUnixTimeMilliseconds() - 1).ToString(System.Globalization.CultureInfo.InvariantCulture) + "-" + ulong.MaxValue;
        while (true)
        {
            var page = await billing.ReadLedgerAsync(queued.Settle.AccountId, LedgerPage, after);
            if (page.Any(e => e.Fields.TryGetValue("request_id", out var id) && id == queued.Settle.RequestId)) return true;
            if (page.Count < LedgerPage) return false;
            after = page[^1].Id;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 224, Level = LogLevel.Information, Message = "Replayed the queued settle of {RequestId} of account {AccountId}: {CostMicros} micro-USD")]
        public static partial void Replayed(ILogger logger, string requestId, string accountId, long costMicros);

        [LoggerMessage(EventId = 228, Level = LogLevel.Error, Message = "Could not read the settle journal directory for the files of stopped gateways; tried again in a minute")]
        public static partial void AdoptFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 227, Level = LogLevel.Error, Message = "Replay of the queued settle of {RequestId} of account {AccountId} failed unexpectedly; kept in the journal")]
        public static partial void ReplayError(ILogger logger, Exception exception, string requestId, string accountId);

        [LoggerMessage(EventId = 225, Level = LogLevel.Warning, Message = "Replay of the queued settle of {RequestId} of account {AccountId} failed ({Reason}); retried")]
        public static partial void ReplayFailed(ILogger logger, string requestId, string accountId, string reason);
    }
}
