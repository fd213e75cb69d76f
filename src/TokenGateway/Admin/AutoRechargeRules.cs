using System.Globalization;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Errors;
using TokenGateway.Pricing;

namespace TokenGateway.Admin;

/// <summary>
/// The auto-recharge rules of <c>PUT /admin/accounts/{id}/auto-recharge</c>, which the console's overview form follows
/// too (it words a refusal its own way, by <see cref="Rule"/>). Who may choose internal mode is the caller's to check.
/// </summary>
internal static class AutoRechargeRules
{
    /// <summary>The rule a body breaks, in the order they are checked.</summary>
    internal enum Rule { Enabled, Threshold, TargetBalance, Amount, MonthlyLimit, Mode, FundingUrl }

    /// <summary>A refused body: the rule and the admin API's parameter and message for it.</summary>
    internal sealed record Refusal(Rule Rule, string Param, string Message)
    {
        public IResult ToResult() => OpenAIError.Result(400, "invalid_request_error", "invalid_request", Message, Param);
    }

    /// <summary>The settings a body asks for, or the first rule it breaks.</summary>
    public static (AutoRechargeSettings? Settings, Refusal? Refusal) Validate(AutoRechargeBody body, BillingOptions o)
    {
        static long? Micros(decimal? usd) => usd is decimal d && d >= 0 ? Money.ToMicros(d) : null;
        static (AutoRechargeSettings?, Refusal?) Refuse(Rule rule, string param, string message) => (null, new Refusal(rule, param, message));
        if (body.Enabled is not bool enabled) return Refuse(Rule.Enabled, "enabled", "'enabled' is required (true or false).");
        if (Micros(body.ThresholdUsd) is not long threshold)
            return Refuse(Rule.Threshold, "threshold_usd", "'threshold_usd' is required: a non-negative amount.");
        long? target = null;
        if (body.TargetBalanceUsd is not null && ((target = Micros(body.TargetBalanceUsd)) is null || target <= threshold))
            return Refuse(Rule.TargetBalance, "target_balance_usd", "'target_balance_usd' must be an amount above 'threshold_usd' (the balance a recharge lifts to).");
        // NOTE: with a target the amount is what lifts the balance to it (at least the minimum top-up): amount_usd is then optional.
        var minimum = Money.ToMicros(o.MinimumTopUpUsd) ?? 0;
        if (Micros(body.AmountUsd ?? (target is null ? null : o.MinimumTopUpUsd)) is not long amount || amount < minimum || amount == 0)
            return Refuse(Rule.Amount, "amount_usd", $"'amount_usd' is required (unless 'target_balance_usd' is set): at least the minimum top-up of ${o.MinimumTopUpUsd.ToString(CultureInfo.InvariantCulture)}.");
        if (Micros(body.MonthlyLimitUsd) is not long limit || limit < amount)
            return Refuse(Rule.MonthlyLimit, "monthly_limit_usd", "'monthly_limit_usd' is required and must be at least 'amount_usd' (the minimum top-up with a target).");
        var mode = body.Mode ?? "webhook";
        if (mode is not ("webhook" or "internal")) return Refuse(Rule.Mode, "mode", "'mode' must be webhook or internal.");
        if (mode == "webhook" && o.Webhooks.FundingUrl.Length == 0)
            return Refuse(Rule.FundingUrl, "mode", "'mode' webhook needs the gateway setting Billing:Webhooks:FundingUrl; use internal, or configure it.");
        return (new AutoRechargeSettings(enabled, threshold, amount, limit, mode, target), null);
    }
}
