using TokenGateway.Errors;
using TokenGateway.Keys;

namespace TokenGateway.Admin;

/// <summary>
/// Authenticates the admin API (<see cref="AdminPrincipals"/>) and scopes a team admin to its own account: the
/// route's account (<c>{id}</c>) or gateway key (<c>{keyId}</c>) must be its own, and <see cref="PlatformOnly"/> routes
/// are refused with 403.
/// </summary>
internal sealed class AdminAuthFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var principal = await http.RequestServices.GetRequiredService<AdminPrincipals>().ResolveAsync(http.Request);
        if (principal is null) return Unauthorized;
        http.Features.Set(principal);
        if (!principal.IsPlatform && !await InScopeAsync(http, principal)) return Forbidden;
        return await next(context);
    }

    private static async Task<bool> InScopeAsync(HttpContext http, AdminPrincipal principal)
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<PlatformOnly>() is not null) return false;
        var route = http.Request.RouteValues;
        if (route.TryGetValue("id", out var id) && !principal.CanAccess(id as string ?? "")) return false;
        // NOTE: a key of another account and a key that does not exist get the same 403: no probing for key ids.
        if (route.TryGetValue("keyId", out var keyId))
        {
            var owner = await http.RequestServices.GetRequiredService<KeyStore>().AccountOfAsync(keyId as string ?? "");
            if (owner is null || !principal.CanAccess(owner)) return false;
        }
        return true;
    }

    public static readonly IResult Unauthorized = OpenAIError.Result(StatusCodes.Status401Unauthorized, "invalid_request_error", "invalid_admin_token",
        "The admin API needs Authorization: Bearer <admin token or team admin key>.");

    public static readonly IResult Forbidden = OpenAIError.Result(StatusCodes.Status403Forbidden, "invalid_request_error", "admin_scope",
        "A team admin key can read and manage only its own account.");
}
