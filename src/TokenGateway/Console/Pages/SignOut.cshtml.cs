using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace TokenGateway.BillingConsole.Pages;

public sealed class SignOutModel : PageModel
{
    public IActionResult OnGet() => Redirect(ConsoleUrls.Root);

    public async Task<IActionResult> OnPostAsync()
    {
        await HttpContext.SignOutAsync(ConsoleSession.Scheme);
        return Redirect(ConsoleUrls.SignIn);
    }
}
