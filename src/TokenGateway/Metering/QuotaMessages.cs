using System.Globalization;
using TokenGateway.Billing;
using TokenGateway.Pricing;

namespace TokenGateway.Metering;

/// <summary>The 429 guidance: which limit tripped, what is left, what the request needed, where to act.</summary>
internal static class QuotaMessages
{
    /// <summary>OpenAI's <c>error.code</c> for the limit that refused a request (all with <c>type: insufficient_quota</c>).</summary>
    public static string Code(QuotaLimit? limit) => limit switch
    {
        QuotaLimit.HardLimit => "organization_spend_limit_exceeded",
        QuotaLimit.ProjectLimit => "project_spend_limit_exceeded",
        QuotaLimit.KeyBudget => "api_key_spend_limit_exceeded",
        _ => "credit_balance_exhausted",
    };

    public static string For(ReserveResult r, string accountId, string billingUrl)
    {
        var left = Usd(Math.Max(0, r.RoomMicros));
        var needed = Usd(r.NeededMicros);
        var where = billingUrl.Length > 0 ? $" Add credits at {billingUrl}." : " Ask your gateway administrator to add credits.";
        return r.Limit switch
        {
            QuotaLimit.HardLimit => $"You exceeded your current quota, please check your plan and billing details. Account '{accountId}' reached its monthly hard limit: {left} of it is left and this request needs up to {needed}. Raise the hard limit or wait for the next calendar month (UTC).{(billingUrl.Length > 0 ? $" Billing: {billingUrl}." : "")}",
            QuotaLimit.ProjectLimit => $"You exceeded your current quota, please check your plan and billing details. Project '{r.ProjectId}' of account '{accountId}' reached its monthly hard limit: {left} of it is left and this request needs up to {needed}. Raise the project's limit or wait for the next calendar month (UTC).{(billingUrl.Length > 0 ? $" Billing: {billingUrl}." : "")}",
            QuotaLimit.KeyBudget => $"You exceeded your current quota, please check your plan and billing details. This API key's monthly budget has {left} left and this request needs up to {needed}. Ask your gateway administrator to raise the key's budget, or use another key.",
            _ => $"You exceeded your current quota, please check your plan and billing details. The credit balance of account '{accountId}' has {left} available and this request needs up to {needed} (lower max_tokens to need less).{where}",
        };
    }

    private static string Usd(long micros) => "$" + Money.ToUsd(micros).ToString("0.00####", CultureInfo.InvariantCulture);
}
