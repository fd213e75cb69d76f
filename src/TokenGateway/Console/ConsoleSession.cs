using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using TokenGateway.Admin;

namespace TokenGateway.BillingConsole;

/// <summary>
/// The console's session: an ASP.NET Core cookie (HttpOnly, SameSite=Strict, Secure over HTTPS, expiring) whose
/// content is encrypted with Data Protection. It holds who signed in (platform admin, or a team admin's account and
/// key id), never the admin token or key.
/// </summary>
internal static class ConsoleSession
{
    public const string Scheme = "TokenGatewayConsole";
    public const string Policy = "TokenGatewayConsole";
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(8);

    private const string AccountClaim = "tg_account";
    private const string AdminKeyClaim = "tg_admin_key";

    public static void Configure(CookieAuthenticationOptions o)
    {
        o.Cookie.Name = "tg_console";
        o.Cookie.Path = ConsoleUrls.Root;
        o.Cookie.HttpOnly = true;
        o.Cookie.SameSite = SameSiteMode.Strict;
        o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        o.ExpireTimeSpan = Lifetime;
        // NOTE: a fixed lifetime from sign-in: an open tab does not keep a session alive for ever.
        o.SlidingExpiration = false;
        o.LoginPath = ConsoleUrls.SignIn;
        o.Events.OnValidatePrincipal = async context =>
        {
            // A team admin's session ends with its key: a revoked key signs its sessions out on their next request.
            var principal = From(context.Principal!);
            if (principal.AdminKeyId is { } id && !await context.HttpContext.RequestServices.GetRequiredService<AdminKeyStore>().ExistsAsync(id))
            {
                context.RejectPrincipal();
                await context.HttpContext.SignOutAsync(Scheme);
            }
        };
    }

    public static Task SignInAsync(HttpContext http, AdminPrincipal principal)
    {
        List<Claim> claims = [new(ClaimTypes.Name, principal.IsPlatform ? "platform admin" : "team admin of " + principal.AccountId)];
        if (!principal.IsPlatform)
        {
            claims.Add(new Claim(AccountClaim, principal.AccountId!));
            claims.Add(new Claim(AdminKeyClaim, principal.AdminKeyId!));
        }
        var identity = new ClaimsIdentity(claims, Scheme);
        return http.SignInAsync(Scheme, new ClaimsPrincipal(identity), new AuthenticationProperties { IsPersistent = false });
    }

    public static AdminPrincipal From(ClaimsPrincipal user) =>
        user.FindFirst(AccountClaim)?.Value is { } account ? new AdminPrincipal(account, user.FindFirst(AdminKeyClaim)?.Value) : AdminPrincipal.Platform;
}
