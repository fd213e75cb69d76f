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
/// </summary>
internal sealed partial class HeldRequest(BillingStore billing, GatewayMetrics metrics, ILogger logger, string accountId, string keyId, string requestId, string model)
    : IAsyncDisposable
{
    private bool _settled;

    public string RequestId => requestId;

    /// <summary>What the request is charged if it ends without <see cref="SettleAsync"/>; asked for only then.</summary>
    public Func<(Charge Charge, TokenUsage Usage)> Fallback { get; set; } = () => (Charge.None, default);

    public Task SettleAsync(Charge charge, TokenUsage usage)
    {
        _settled = true;
        return SettleWithRetriesAsync(new SettleRequest(accountId, keyId, requestId, model, charge, usage));
    }

    public async ValueTask DisposeAsync()
    {
        if (_settled) return;
        _settled = true;
        var (charge, usage) = Fallback();
        Log.SettledOnExit(logger, requestId, charge.Micros);
        await SettleWithRetriesAsync(new SettleRequest(accountId, keyId, requestId, model, charge, usage));
    }

    /// <summary>
    /// Releases a hold a failed reserve may have placed, in the background: settles are idempotent by request id, so a
    /// release that finds no hold does nothing. Tried for about two minutes (a stalled Redis), then left to the hold's lease.
    /// </summary>
    public static void ReleaseInBackground(BillingStore billing, GatewayMetrics metrics, ILogger logger, string accountId, string keyId, string requestId) =>
        _ = Task.Run(async () =>
        {
            var release = new SettleRequest(accountId, keyId, requestId, "", Charge.None, default);
            if (await TrySettleAsync(billing, metrics, release, "release", attempts: 30, attempt => TimeSpan.FromSeconds(Math.Min(attempt, 5))) is not null)
                Log.ReleaseFailed(logger, requestId, accountId);
        });

    /// <summary>Settle is idempotent by request id, so a failed attempt is simply tried again.</summary>
    private async Task SettleWithRetriesAsync(SettleRequest settle)
    {
        // The hold's lease expires and frees the funds; a charge that could not be written is logged for reconciliation.
        if (await TrySettleAsync(billing, metrics, settle, "settle", attempts: 4, attempt => TimeSpan.FromMilliseconds(100 * attempt * attempt)) is { } failure)
            Log.SettleFailed(logger, failure, settle.RequestId, settle.AccountId, settle.CostMicros);
    }

    /// <summary>Tries a settle up to <paramref name="attempts"/> times; returns the last billing-store failure, or null once it is written.</summary>
    private static async Task<Exception?> TrySettleAsync(BillingStore billing, GatewayMetrics metrics, SettleRequest settle, string operation, int attempts, Func<int, TimeSpan> delay)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await billing.SettleAsync(settle);
                return null;
            }
            catch (Exception e) when (OpenAIError.IsBillingStoreFailure(e))
            {
                metrics.RedisError(operation);
                if (attempt == attempts) return e;
                await Task.Delay(delay(attempt));
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 202, Level = LogLevel.Critical, Message = "Settle failed for {RequestId} of account {AccountId}: {CostMicros} micro-USD not recorded")]
        public static partial void SettleFailed(ILogger logger, Exception exception, string requestId, string accountId, long costMicros);

        [LoggerMessage(EventId = 204, Level = LogLevel.Error, Message = "Could not release the possible hold of {RequestId} of account {AccountId}; its lease frees it")]
        public static partial void ReleaseFailed(ILogger logger, string requestId, string accountId);

        [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "Request {RequestId} ended before it was settled; settled with {CostMicros} micro-USD")]
        public static partial void SettledOnExit(ILogger logger, string requestId, long costMicros);
    }
}
