using TokenGateway.Errors;

namespace TokenGateway.Admin;

/// <summary>
/// Answers a failure to reach the billing store (Redis down, stalled, full) in OpenAI's shape rather than as an
/// unhandled 500; used by the admin API and the organization API.
/// </summary>
internal sealed class BillingStoreFailureFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (Exception e) when (OpenAIError.IsBillingStoreFailure(e))
        {
            return OpenAIError.ForBillingStoreFailure(e);
        }
    }
}
