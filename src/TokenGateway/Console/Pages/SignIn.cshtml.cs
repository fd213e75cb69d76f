using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using TokenGateway.Admin;

namespace TokenGateway.Console.Pages;

/// <summary>Sign-in with the admin token (platform admin) or a team admin key; the session cookie never holds either.</summary>
public sealed class SignInModel : PageModel
{
    public string? Error { get; private set; }

    public void OnGet() => ConsoleHeaders.Apply(Response);

    public async Task<IActionResult> OnPostAsync([FromForm] string? token)
    {
        ConsoleHeaders.Apply(Response);
        var principal = await HttpContext.RequestServices.GetRequiredService<AdminPrincipals>().ResolveAsync(token?.Trim());
        if (principal is null)
        {
            Error = "That is neither the admin token nor a valid team admin key.";
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Page();
        }
        await ConsoleSession.SignInAsync(HttpContext, principal);
        return Redirect(principal.IsPlatform ? ConsoleUrls.Root : ConsoleUrls.Overview(principal.AccountId!));
    }
}
