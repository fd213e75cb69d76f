using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using TokenGateway.Admin;

namespace TokenGateway.BillingConsole.Pages;

/// <summary>Sign-in with the admin token (platform admin) or a team admin key; the session cookie never holds either.</summary>
public sealed partial class SignInModel(ILogger<SignInModel> logger) : PageModel
{
    public string? Error { get; private set; }

    public void OnGet() => ConsoleHeaders.Apply(Response);

    public async Task<IActionResult> OnPostAsync([FromForm] string? token)
    {
        ConsoleHeaders.Apply(Response);
        var principal = await HttpContext.RequestServices.GetRequiredService<AdminPrincipals>().ResolveAsync(token?.Trim());
        if (principal is null)
        {
            Log.Refused(logger, HttpContext.Connection.RemoteIpAddress?.ToString() ?? "unknown");
            Error = "That is neither the admin token nor a valid team admin key.";
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Page();
        }
        // NOTE: who signed in, by account and key id: never the token or the key itself.
        Log.SignedIn(logger, principal.AccountId ?? "(platform admin)", principal.AdminKeyId ?? "admin token");
        await ConsoleSession.SignInAsync(HttpContext, principal);
        return Redirect(principal.IsPlatform ? ConsoleUrls.Root : ConsoleUrls.Overview(principal.AccountId!));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Console sign-in: account {AccountId} with {Credential}")]
        public static partial void SignedIn(ILogger logger, string accountId, string credential);

        [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "Console sign-in refused (neither the admin token nor a team admin key) from {RemoteAddress}")]
        public static partial void Refused(ILogger logger, string remoteAddress);
    }
}
