using System.Globalization;
using TokenGateway.Errors;

namespace TokenGateway.RateLimits;

/// <summary>Which limit refused a request: its window (the bounded <c>limit</c> label of the metric) and scope.</summary>
internal enum RateLimitWindow { Rpm, Tpm, Rpd, InFlight }

internal enum RateLimitScope { Key, Project, Account }

/// <summary>
/// A request the rate limits refused (reserve.lua's status 4): nothing was held or counted. The limit that makes it wait
/// longest is reported, with what it allows, what is in use, what the request asked for and when it fits again.
/// </summary>
/// <param name="Used">Requests or tokens in use now (in flight, for <see cref="RateLimitWindow.InFlight"/>).</param>
/// <param name="WaitMs">When the request fits again; for requests in flight, a guess (one ends).</param>
/// <param name="PerModel">The scope's limit for this model rather than its general one.</param>
internal sealed record RateLimitRefusal(
    RateLimitWindow Window, RateLimitScope Scope, long Limit, long Used, long Requested, long WaitMs, bool PerModel, RateLimitHeaders Headers)
{
    /// <summary>OpenAI's <c>error.type</c>: <c>tokens</c> for a token limit, <c>requests</c> otherwise.</summary>
    public string Type => Window == RateLimitWindow.Tpm ? "tokens" : "requests";

    /// <summary>A request that needs more tokens than the limit allows in a whole minute: waiting does not help.</summary>
    public bool TooLarge => Requested > Limit;

    /// <summary><c>Retry-After</c>, in whole seconds as HTTP has them (rounded up, at least 1).</summary>
    public int RetryAfterSeconds => (int)Math.Max(1, (WaitMs + 999) / 1000);

    public string Label => Window switch
    {
        RateLimitWindow.Rpm => "rpm",
        RateLimitWindow.Tpm => "tpm",
        RateLimitWindow.Rpd => "rpd",
        _ => "in_flight",
    };

    public string ScopeLabel => Scope switch
    {
        RateLimitScope.Key => "key",
        RateLimitScope.Project => "project",
        _ => "account",
    };

    /// <summary>
    /// OpenAI's message: "Rate limit reached for gpt-4o in organization org-… on tokens per min (TPM): Limit 30000, Used
    /// 29547, Requested 1000. Please try again in 1.146s." — with the gateway's scope (key, project, account) in place of
    /// OpenAI's organization. <paramref name="model"/> is the request's, quoted briefly.
    /// </summary>
    public string Message(string model, string accountId, string projectId, string keyId)
    {
        var where = Scope switch
        {
            RateLimitScope.Key => $"API key '{keyId}' of organization '{accountId}'",
            RateLimitScope.Project => $"project '{projectId}' of organization '{accountId}'",
            _ => $"organization '{accountId}'",
        };
        var what = (Window switch
        {
            RateLimitWindow.Rpm => "requests per min (RPM)",
            RateLimitWindow.Tpm => "tokens per min (TPM)",
            RateLimitWindow.Rpd => "requests per day (RPD)",
            _ => "requests in flight",
        }) + (PerModel ? $" for {model}" : "");
        var limit = Limit.ToString(CultureInfo.InvariantCulture);
        var requested = Requested.ToString(CultureInfo.InvariantCulture);
        if (TooLarge)
            return $"Request too large for {OpenAIError.Quote(model)} in {where} on {what}: Limit {limit}, Requested {requested}. The input or output tokens must be reduced in order to run successfully.";
        var used = Used.ToString(CultureInfo.InvariantCulture);
        var when = Window == RateLimitWindow.InFlight ? "when one of them has finished" : "in " + RateLimitHeaders.Duration(WaitMs);
        return $"Rate limit reached for {OpenAIError.Quote(model)} in {where} on {what}: Limit {limit}, Used {used}, Requested {requested}. Please try again {when}.";
    }

    /// <summary>The headers of the refusal: Retry-After (and retry-after-ms, which OpenAI's SDKs prefer) and the x-ratelimit set.</summary>
    public void Apply(IHeaderDictionary headers)
    {
        Headers.Apply(headers);
        if (TooLarge)
        {
            // NOTE: the request would not fit even in an idle minute: like a quota refusal, it must not be retried.
            headers["x-should-retry"] = "false";
            return;
        }
        headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        headers["retry-after-ms"] = Math.Max(1, WaitMs).ToString(CultureInfo.InvariantCulture);
    }
}
