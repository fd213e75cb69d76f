using System.Globalization;

namespace TokenGateway.RateLimits;

/// <summary>
/// OpenAI's <c>x-ratelimit-*</c> headers for the tightest limits of a request: of its request limits (RPM, RPD, per scope
/// and model) the one with the fewest requests left, and of its token limits (TPM) the one with the fewest tokens left.
/// A set is sent only when such a limit applies (<see cref="LimitRequests"/>, <see cref="LimitTokens"/> null otherwise).
/// Reset is when that limit is whole again (GCRA refills continuously), in OpenAI's duration format.
/// </summary>
internal sealed record RateLimitHeaders(long? LimitRequests, long RemainingRequests, long ResetRequestsMs, long? LimitTokens, long RemainingTokens, long ResetTokensMs)
{
    public bool Any => LimitRequests is not null || LimitTokens is not null;

    private static readonly string[] Names =
    [
        "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
    ];

    /// <summary>
    /// Sets the headers, after removing any set already there (the upstream's, of the provider account the whole gateway
    /// shares: mixed with the gateway's they would describe neither).
    /// </summary>
    public void Apply(IHeaderDictionary headers)
    {
        foreach (var name in Names) headers.Remove(name);
        if (LimitRequests is long requests)
        {
            headers["x-ratelimit-limit-requests"] = requests.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = RemainingRequests.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = Duration(ResetRequestsMs);
        }
        if (LimitTokens is long tokens)
        {
            headers["x-ratelimit-limit-tokens"] = tokens.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-tokens"] = RemainingTokens.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-tokens"] = Duration(ResetTokensMs);
        }
    }

    /// <summary>OpenAI's (Go's) duration format at millisecond precision: <c>20ms</c>, <c>1s</c>, <c>1.146s</c>, <c>6m0s</c>, <c>1h0m0s</c>.</summary>
    public static string Duration(long ms)
    {
        if (ms <= 0) return "0s";
        if (ms < 1000) return ms.ToString(CultureInfo.InvariantCulture) + "ms";
        var hours = ms / 3_600_000;
        var minutes = ms / 60_000 % 60;
        var seconds = (ms % 60_000 / 1000m).ToString("0.###", CultureInfo.InvariantCulture) + "s";
        return hours > 0 ? $"{hours}h{minutes}m{seconds}" : minutes > 0 ? $"{minutes}m{seconds}" : seconds;
    }
}
