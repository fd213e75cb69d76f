using TokenGateway.Billing;

namespace TokenGateway.Telemetry;

/// <summary>The <c>outcome</c> label of <c>tokengateway_requests_total</c>: how a metered request ended.</summary>
internal static class RequestOutcome
{
    public const string Ok = "ok";
    public const string InsufficientQuota = "insufficient_quota";
    public const string HardLimit = "hard_limit";
    public const string KeyBudget = "key_budget";
    public const string ProjectLimit = "project_limit";
    /// <summary>Refused by a rate limit (which one: <c>tokengateway_rate_limited_total</c>).</summary>
    public const string RateLimited = "rate_limited";
    public const string InvalidKey = "invalid_key";
    public const string ModelNotAllowed = "model_not_allowed";
    public const string InvalidRequest = "invalid_request";
    public const string ModelNotPriced = "model_not_priced";
    public const string RequestTooLarge = "request_too_large";
    public const string ClientDisconnected = "client_disconnected";
    public const string UpstreamError = "upstream_error";
    public const string BillingUnavailable = "billing_unavailable";
    public const string BillingStoreFull = "billing_store_full";

    /// <summary>A 429 by the limit that refused it (<see cref="ReserveResult.Limit"/>).</summary>
    public static string Refused(QuotaLimit? limit) => limit switch
    {
        QuotaLimit.HardLimit => HardLimit,
        QuotaLimit.KeyBudget => KeyBudget,
        QuotaLimit.ProjectLimit => ProjectLimit,
        _ => InsufficientQuota,
    };
}
