using Microsoft.AspNetCore.Mvc;
using TokenGateway.Admin;
using TokenGateway.Billing;

namespace TokenGateway.BillingConsole.Pages;

/// <summary>The platform admin's team list (and the team switcher's target); a team admin goes to its own overview.</summary>
public sealed class IndexModel : ConsolePageModel
{
    public string? Error { get; private set; }

    public IActionResult OnGet([FromQuery] string? team)
    {
        if (!IsPlatform) return Redirect(ConsoleUrls.Overview(Admin.AccountId!));
        if (team is not null && Teams.Contains(team)) return Redirect(ConsoleUrls.Overview(team));
        return Page();
    }

    public async Task<IActionResult> OnPostCreateAsync([FromForm] string? id, [FromForm] string? name)
    {
        if (!IsPlatform) return StatusCode(StatusCodes.Status403Forbidden);
        if (id is null || !AdminEndpoints.AccountIdPattern().IsMatch(id))
        {
            Error = "A team id is 1–64 characters of a–z, 0–9, _ and -, starting with a letter or digit.";
            return Page();
        }
        if (!await HttpContext.RequestServices.GetRequiredService<BillingStore>().CreateAccountAsync(id, string.IsNullOrWhiteSpace(name) ? id : name.Trim()))
        {
            Error = $"A team '{id}' already exists.";
            return Page();
        }
        return Redirect(ConsoleUrls.Overview(id));
    }
}
