using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.RazorPages;
using TokenGateway.Admin;
using TokenGateway.Billing;

namespace TokenGateway.BillingConsole.Pages;

/// <summary>
/// The pages of one team (<c>/console/{account}/…</c>): the signed-in admin must be allowed that team (403 otherwise,
/// so a team admin never sees another team), and every answer is uncacheable and allowed to load nothing but the
/// gateway's own origin.
/// </summary>
public abstract class ConsolePageModel : PageModel
{
    internal AdminPrincipal Admin { get; private set; } = AdminPrincipal.Platform;

    /// <summary>The team the page shows; empty on pages of no team.</summary>
    [FromRoute(Name = "account")]
    public string Account { get; set; } = "";

    internal AccountSnapshot? Snapshot { get; private set; }

    /// <summary>Teams of the switcher (the platform admin's only).</summary>
    public IReadOnlyList<string> Teams { get; private set; } = [];

    public bool IsPlatform => Admin.IsPlatform;

    // NOTE: services are resolved per request rather than injected: they are internal types, and a page model is public.
    internal T Service<T>() where T : notnull => HttpContext.RequestServices.GetRequiredService<T>();

    public override async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        ConsoleHeaders.Apply(HttpContext.Response);
        if (User.Identity?.IsAuthenticated != true || User.Identity.AuthenticationType != ConsoleSession.Scheme)
        {
            // NOTE: the folder's authorization policy already demands a session; this keeps a page that forgot it closed.
            context.Result = Challenge(ConsoleSession.Scheme);
            return;
        }
        Admin = ConsoleSession.From(User);
        if (Account.Length > 0)
        {
            if (!Admin.CanAccess(Account))
            {
                context.Result = Problem(StatusCodes.Status403Forbidden, "Not your team", "You are signed in as the admin of another team: this console shows only your own team.");
                return;
            }
            var billing = HttpContext.RequestServices.GetRequiredService<BillingStore>();
            if (!AdminEndpoints.AccountIdPattern().IsMatch(Account) || (Snapshot = await billing.ReadAccountAsync(Account)) is null)
            {
                context.Result = Problem(StatusCodes.Status404NotFound, "No such team", "There is no team with that id.");
                return;
            }
        }
        if (Admin.IsPlatform) Teams = await HttpContext.RequestServices.GetRequiredService<ConsoleData>().TeamsAsync();
        await next();
    }

    /// <summary>A small page of its own for a refusal (no layout: it must not show the team's data).</summary>
    private static ContentResult Problem(int status, string title, string text) => new()
    {
        StatusCode = status,
        ContentType = "text/html; charset=utf-8",
        Content = $"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status} {title}</title><link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head>"
            + $"<body><main><h1>{status} — {title}</h1><p>{text}</p><p><a href=\"{ConsoleUrls.Root}\">Back to the console</a></p></main></body></html>",
    };
}

internal static class ConsoleHeaders
{
    public static void Apply(HttpResponse response)
    {
        var h = response.Headers;
        // NOTE: pages can show a secret once (a new key): never stored by a browser or a proxy cache.
        h.CacheControl = "no-store";
        h.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";
        h.XContentTypeOptions = "nosniff";
        h["Referrer-Policy"] = "no-referrer";
    }
}
