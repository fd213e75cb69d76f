using TokenGateway.Admin;
using TokenGateway.Billing;
using TokenGateway.Errors;

namespace TokenGateway.Organization;

/// <summary>
/// Who may read which account through OpenAI's organization APIs, decided in one function (<see cref="ResolveAsync"/>):
/// the admin token reads the account named by the <c>OpenAI-Organization</c> header (the SDKs send it from their
/// <c>organization</c> option); a team admin key reads its own account (the header, when sent, must name it). The
/// account found is left in <see cref="HttpContext.Items"/> for the handler (<see cref="AccountOf"/>).
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

    /// <summary>The account the caller may read, or the error to answer (401 before anything about accounts is said).</summary>
    public static async Task<(string? Account, IResult? Error)> ResolveAsync(HttpContext http)
    {
        var principal = await http.RequestServices.GetRequiredService<AdminPrincipals>().ResolveAsync(http.Request);
        if (principal is null) return (null, AdminAuthFilter.Unauthorized);
        var organization = http.Request.Headers["OpenAI-Organization"].ToString();
        if (!principal.IsPlatform)
            return organization.Length == 0 || principal.CanAccess(organization) ? (principal.AccountId, null) : (null, AdminAuthFilter.Forbidden);
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
