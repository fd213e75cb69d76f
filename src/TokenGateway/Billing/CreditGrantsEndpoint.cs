using TokenGateway.Errors;
using TokenGateway.Keys;
using TokenGateway.Pricing;

namespace TokenGateway.Billing;

/// <summary>
/// <c>GET /v1/dashboard/billing/credit_grants</c> for key holders, in OpenAI's legacy shape, so
/// existing balance checkers work against the gateway.
/// </summary>
internal static class CreditGrantsEndpoint
{
    public static async Task HandleAsync(HttpContext context, KeyStore keys, BillingStore billing)
    {
        try
        {
            await WriteSummaryAsync(context, keys, billing);
        }
        catch (Exception e) when (OpenAIError.IsBillingStoreFailure(e))
        {
            await OpenAIError.ForBillingStoreFailure(e).ExecuteAsync(context);
        }
    }

    private static async Task WriteSummaryAsync(HttpContext context, KeyStore keys, BillingStore billing)
    {
        if (await keys.FindForRequestAsync(context.Request) is not { } presented || !await keys.IsUsableAsync(presented.Key, presented.SecretHash)
            || await billing.ReadAccountAsync(presented.Key.AccountId) is not { } account)
        {
            await OpenAIError.InvalidApiKey(context);
            return;
        }
        var granted = account.Grants.Sum(g => g.AmountMicros);
        await context.Response.WriteAsJsonAsync(new
        {
            @object = "credit_summary",
            total_granted = Money.ToUsd(granted),
            total_used = Money.ToUsd(granted - account.BalanceMicros),
            total_available = Money.ToUsd(account.BalanceMicros),
            total_available_micros = account.BalanceMicros,
            grants = new
            {
                @object = "list",
                data = account.Grants.Select(g => new
                {
                    @object = "credit_grant",
                    id = g.Id,
                    grant_amount = Money.ToUsd(g.AmountMicros),
                    used_amount = Money.ToUsd(g.AmountMicros - g.RemainingMicros),
                    effective_at = g.CreatedAt.ToUnixTimeSeconds(),
                    expires_at = g.ExpiresAt.ToUnixTimeSeconds(),
                }),
            },
        });
    }
}
