using TokenGateway.Admin;
using TokenGateway.Billing;
using TokenGateway.Errors;

namespace TokenGateway.Organization;

/// <summary>
/// Who may read an account through OpenAI's organization APIs, decided in one place: the admin token (checked before
/// this filter by <see cref="AdminAuthFilter"/>) with the account named by the <c>OpenAI-Organization</c> header, which
/// the SDKs send from their <c>organization</c> option. The account found is left in <see cref="HttpContext.Items"/>
/// for the handler (<see cref="AccountOf"/>). Another credential that is bound to one account resolves here too.
/// </summary>
internal sealed class OrganizationAccess : IEndpointFilter
{
    private const string ItemKey = "tokengateway.organization";

    public static string AccountOf(HttpContext context) => (string)context.Items[ItemKey]!;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var (account, error) = await ResolveAsync(http);
        if (account is null) return error;
        http.Items[ItemKey] = account;
        return await next(context);
    }

    /// <summary>The account the caller may read, or the error to answer.</summary>
    public static async Task<(string? Account, IResult? Error)> ResolveAsync(HttpContext http)
    {
        var organization = http.Request.Headers["OpenAI-Organization"].ToString();
        if (organization.Length == 0)
            return (null, OpenAIError.Result(400, "invalid_request_error", "missing_organization",
                "Name the account (team) to read in the OpenAI-Organization header (the SDKs' organization option)."));
        var billing = http.RequestServices.GetRequiredService<BillingStore>();
        if (!AdminEndpoints.AccountIdPattern().IsMatch(organization) || await billing.ReadAccountAsync(organization) is null)
            return (null, OpenAIError.Result(404, "invalid_request_error", "organization_not_found",
                $"No account '{OpenAIError.Quote(organization)}' (the OpenAI-Organization header) exists on this gateway."));
        return (organization, null);
    }
}
