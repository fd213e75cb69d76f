using TokenGateway.Errors;
using TokenGateway.Pricing;

namespace TokenGateway.Admin;

/// <summary>The monthly spend limits of a <c>PUT .../limits</c> body, an account's or a project's.</summary>
internal static class LimitsRules
{
    /// <summary>The limits in micro-USD (null: none), or the admin API's error for the first one refused.</summary>
    public static (long? Hard, long? Soft, IResult? Error) Validate(LimitsBody body)
    {
        static IResult Refuse(string message, string param) => OpenAIError.Result(400, "invalid_request_error", "invalid_request", message, param);
        long? hard = null, soft = null;
        if (body.HardLimitUsd is decimal h && (h < 0 || (hard = Money.ToMicros(h)) is null))
            return (null, null, Refuse("'hard_limit_usd' must be a non-negative amount or null.", "hard_limit_usd"));
        if (body.SoftLimitUsd is decimal s && (s < 0 || (soft = Money.ToMicros(s)) is null))
            return (null, null, Refuse("'soft_limit_usd' must be a non-negative amount or null.", "soft_limit_usd"));
        // NOTE: a PUT sets both limits (absent or null removes one), so only a body with both can conflict: there is
        // no stored limit to compare with.
        if (soft > hard) return (null, null, Refuse("'soft_limit_usd' must not be above 'hard_limit_usd'.", "soft_limit_usd"));
        return (hard, soft, null);
    }
}
