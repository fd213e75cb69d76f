using TokenGateway.Admin;
using TokenGateway.Billing;
using TokenGateway.Errors;

namespace TokenGateway.Organization;

/// <summary>
/// Who may read which account through OpenAI's organization APIs, decided in one function (<see cref="ResolveAsync"/>):
/// today the admin token, with the account named by the <c>OpenAI-Organization</c> header (the SDKs send it from their
/// <c>organization</c> option). A credential bound to one account (a team-scoped admin key) is another case of that
/// function. The account found is left in <see cref="HttpContext.Items"/> for the handler (<see cref="AccountOf"/>).
/// </summary>
internal sealed class OrganizationAccess(string adminToken) : IEndpointFilter
{
    private const string ItemKey = "tokengateway.organization";
    private readonly AdminAuthFilter _admin = new(adminToken);

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
    public async Task<(string? Account, IResult? Error)> ResolveAsync(HttpContext http)
    {
        if (!_admin.IsAdmin(http.Request)) return (null, AdminAuthFilter.Unauthorized);
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
