using TokenGateway.Billing;
using TokenGateway.Errors;
using TokenGateway.Pricing;
using TokenGateway.Telemetry;

namespace TokenGateway.Metering;

/// <summary>
/// Owns a request's hold from the reserve to its settle. Whatever ends the request after the reserve
/// (an upstream error, the client leaving, an exception of the gateway's own), <see cref="DisposeAsync"/>
/// settles the hold with what is known by then, <see cref="Fallback"/>: nothing before the request is
/// forwarded, its input after. So no hold waits for its lease to end, and nothing forwarded is free.
/// While it lives, the <see cref="HoldHeartbeat"/> renews its lease and records <see cref="Consumed"/>.
/// A settle Redis does not take now is not lost: it goes to the <see cref="SettleJournal"/> and is replayed.
/// </summary>
internal sealed partial class HeldRequest : IAsyncDisposable
{
    private readonly HoldServices _services;
    private readonly ILogger _logger;
    private readonly string _keyId;
    private readonly string _model;
    private bool _settled;

    public HeldRequest(HoldServices services, ILogger logger, string accountId, string keyId, string requestId, string model)
    {
        (_services, _logger, AccountId, _keyId, RequestId, _model) = (services, logger, accountId, keyId, requestId, model);
        services.Heartbeat.Add(this);
    }

    public string AccountId { get; }
    public string RequestId { get; }

    /// <summary>What the request is charged if it ends without <see cref="SettleAsync"/>; asked for only then.</summary>
    public Func<(Charge Charge, TokenUsage Usage)> Fallback { get; set; } = () => (Charge.None, default);

    /// <summary>
    /// What the request has consumed so far (input, and the output streamed up to now), priced like a stream cut before
    /// its usage; asked for by the heartbeat, on its thread, so it must be safe to call while the request runs.
    /// </summary>
    public Func<(Charge Charge, TokenUsage Usage)> Consumed { get; set; } = () => (Charge.None, default);

    internal HeldConsumption Consumption(TimeSpan settledMarkerLifetime)
    {
        var (charge, usage) = Consumed();
        return new HeldConsumption(RequestId, _model, charge, usage, settledMarkerLifetime);
    }

    public Task SettleAsync(Charge charge, TokenUsage usage)
    {
        _settled = true;
        return SettleDurablyAsync(new SettleRequest(AccountId, _keyId, RequestId, _model, charge, usage));
    }

    /// <summary>
    /// Settles without the caller waiting: for an answer that is complete, so that its last byte does not wait for the
    /// settle's round trip. <see cref="PendingSettles"/> keeps it (reads on this replica and shutdown wait for it); its
    /// failure handling is <see cref="SettleAsync"/>'s. <paramref name="stage"/> (the settle's span and duration) ends with it.
    /// </summary>
    public void SettleAfterResponse(Charge charge, TokenUsage usage, IDisposable stage)
    {
        // A heartbeat while the settle runs records the final charge: if this replica dies now, its lease charges that.
        Consumed = () => (charge, usage);
        _services.Pending.Track(SettleTimedAsync(SettleAsync(charge, usage), stage));
    }

    private static async Task SettleTimedAsync(Task settle, IDisposable stage)
    {
        using (stage) await settle;
    }

    public async ValueTask DisposeAsync()
    {
        if (_settled) return;
        _settled = true;
        var (charge, usage) = Fallback();
        Log.SettledOnExit(_logger, RequestId, charge.Micros);
        await SettleDurablyAsync(new SettleRequest(AccountId, _keyId, RequestId, _model, charge, usage));
    }

    /// <summary>
    /// Releases a hold a failed reserve may have placed, in the background: settles are idempotent by request id, so a
    /// release that finds no hold does nothing. Tried a few times, then queued in the journal like a settle.
    /// </summary>
    public static void ReleaseInBackground(HoldServices services, ILogger logger, string accountId, string keyId, string requestId) =>
        _ = Task.Run(async () =>
        {
            var release = new SettleRequest(accountId, keyId, requestId, "", Charge.None, default);
            var at = services.Billing.Now;
            if (await TrySettleAsync(services, release, at, "release", attempts: 3) is null) return;
            await QueueAsync(services, logger, release, at, "release");
        });

    private async Task SettleDurablyAsync(SettleRequest settle)
    {
        var at = _services.Billing.Now;
        try
        {
            // NOTE: a short retry for what passes in a moment (a failover, TRYAGAIN while a slot moves); anything longer
            // waits in the journal, not on the request.
            if (await TrySettleAsync(_services, settle, at, "settle", attempts: 2) is null) return;
            await QueueAsync(_services, _logger, settle, at, "settle");
        }
        finally
        {
            // NOTE: after the settle or its queuing: a hold whose settle waits in the journal keeps its last record, and
            // if Redis stays away past the lease it is charged that, the replayed settle then only the rest (settle.lua).
            _services.Heartbeat.Remove(this);
        }
    }

    private static async Task QueueAsync(HoldServices services, ILogger logger, SettleRequest settle, DateTimeOffset at, string operation)
    {
        try
        {
            await services.Journal.AppendAsync(settle, at);
            services.Metrics.SettleQueued(operation);
            Log.SettleQueued(logger, settle.RequestId, settle.AccountId, settle.CostMicros);
        }
        catch (Exception e)
        {
            Log.SettleLost(logger, e, settle.RequestId, settle.AccountId, settle.CostMicros);
        }
    }

    /// <summary>
    /// Tries a settle up to <paramref name="attempts"/> times, each dated <paramref name="at"/>; returns the last
    /// billing-store failure, or null once it is written. Settle is idempotent by request id, so a retry is safe.
    /// </summary>
    private static async Task<Exception?> TrySettleAsync(HoldServices services, SettleRequest settle, DateTimeOffset at, string operation, int attempts)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await services.Billing.SettleAsync(settle, at);
                return null;
            }
            catch (Exception e) when (OpenAIError.IsBillingStoreFailure(e))
            {
                services.Metrics.RedisError(operation);
                if (attempt == attempts) return e;
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt));
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 202, Level = LogLevel.Critical, Message = "Settle of {RequestId} of account {AccountId} lost: neither Redis nor the settle journal took it; {CostMicros} micro-USD not recorded")]
        public static partial void SettleLost(ILogger logger, Exception exception, string requestId, string accountId, long costMicros);

        [LoggerMessage(EventId = 220, Level = LogLevel.Warning, Message = "Redis did not take the settle of {RequestId} of account {AccountId} ({CostMicros} micro-USD): queued in the settle journal, replayed when it does")]
        public static partial void SettleQueued(ILogger logger, string requestId, string accountId, long costMicros);

        [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "Request {RequestId} ended before it was settled; settled with {CostMicros} micro-USD")]
        public static partial void SettledOnExit(ILogger logger, string requestId, long costMicros);
    }
}
