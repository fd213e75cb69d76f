using TokenGateway.Metering;
using TokenGateway.Pricing;
using TokenGateway.RateLimits;

namespace TokenGateway.Billing;

internal sealed record ReserveRequest(
    string AccountId, string KeyId, string KeySha, string RequestId, string Model,
    long InputCostMicros, long OutputPicosPerToken, int MaxOutputTokens, int Choices, bool ExplicitOutputLimit, long InputTokenEstimate = 0);

internal enum ReserveStatus { Reserved, InvalidKey, ModelNotAllowed, InsufficientQuota, RateLimited }

/// <summary>
/// The limit that refused a reserve: the credit balance (with the overdraft), the account's monthly hard limit, the
/// key's project's monthly hard limit, or the key's monthly budget.
/// </summary>
internal enum QuotaLimit { Balance, HardLimit, KeyBudget, ProjectLimit }

/// <param name="Limit">The limit that refused the request (<see cref="ReserveStatus.InsufficientQuota"/> only).</param>
/// <param name="ProjectId">The key's project (<see cref="ReserveStatus.InsufficientQuota"/> and <see cref="ReserveStatus.RateLimited"/>).</param>
/// <param name="RateLimits">The x-ratelimit headers of a reserved request (null when no rate limit applies to it).</param>
/// <param name="RateLimited">The rate limit that refused the request (<see cref="ReserveStatus.RateLimited"/> only).</param>
internal sealed record ReserveResult(
    ReserveStatus Status, long HoldMicros = 0, int GrantedOutputTokens = 0, QuotaLimit? Limit = null, long RoomMicros = 0, long NeededMicros = 0,
    string? ProjectId = null, RateLimitHeaders? RateLimits = null, RateLimitRefusal? RateLimited = null);

/// <param name="Model">The priced model's label (a name from the pricing file), never the raw client string.</param>
/// <param name="Usage">What was billed; default when nothing was (a released hold).</param>
internal sealed record SettleRequest(
    string AccountId, string KeyId, string RequestId, string Model, Charge Charge, TokenUsage Usage)
{
    public long CostMicros => Charge.Micros;
}

/// <param name="RaisedEvents">Outbox events this settle raised (soft limit, auto-recharge), to deliver in the background.</param>
internal sealed record SettleResult(bool AlreadySettled, long BalanceMicros, IReadOnlyList<string> RaisedEvents);

/// <summary>IdempotencyKeyReused: the Idempotency-Key was used with a different amount, expiry or source; nothing was granted.</summary>
internal enum GrantStatus { Added, Replayed, NoAccount, IdempotencyKeyReused }

/// <param name="GrantId">The new grant, or the earlier one for Replayed and IdempotencyKeyReused.</param>
/// <param name="BalanceMicros">After the call; 0 for NoAccount and IdempotencyKeyReused.</param>
internal sealed record GrantResult(GrantStatus Status, string? GrantId, long BalanceMicros);

internal sealed record GrantSnapshot(string Id, long AmountMicros, long RemainingMicros, string Source, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);

/// <param name="Mode">internal (granted at once) or webhook (approved by the funding webhook).</param>
/// <param name="TargetBalanceMicros">Recharge to this balance instead of by <paramref name="AmountMicros"/> (at least the minimum top-up).</param>
internal sealed record AutoRechargeSettings(bool Enabled, long ThresholdMicros, long AmountMicros, long MonthlyLimitMicros, string Mode, long? TargetBalanceMicros = null);

/// <param name="ThresholdsPercent">Percentages of the monthly hard limit (of the soft limit without one) that raise budget.threshold_crossed.</param>
/// <param name="LowBalanceMicros">The balance under which balance.low is raised; null: none.</param>
internal sealed record AlertSettings(IReadOnlyList<int> ThresholdsPercent, long? LowBalanceMicros)
{
    /// <summary>The comma list of percentages the settle script reads (<c>alerts</c>, <c>palerts:&lt;project&gt;</c>).</summary>
    public static IReadOnlyList<int> ParsePercentages(string? stored) =>
        string.IsNullOrEmpty(stored) ? [] : [.. stored.Split(',').Select(p => int.Parse(p, System.Globalization.CultureInfo.InvariantCulture))];
}

internal sealed record AccountSnapshot(
    string Id, string Name, long BalanceMicros, long HeldMicros, long MonthSpendMicros, long? HardLimitMicros, long? SoftLimitMicros,
    AutoRechargeSettings? AutoRecharge, long MonthRechargedMicros, IReadOnlyList<GrantSnapshot> Grants, AlertSettings Alerts);

internal sealed record LedgerEntry(string Id, IReadOnlyDictionary<string, string> Fields);
