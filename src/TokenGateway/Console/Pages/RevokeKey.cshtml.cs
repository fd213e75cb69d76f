using Microsoft.AspNetCore.Mvc;
using TokenGateway.Keys;

namespace TokenGateway.BillingConsole.Pages;

/// <summary>Revoking a key is confirmed on a page of its own (no script needed, nothing to mis-click in a table).</summary>
public sealed class RevokeKeyModel : ConsolePageModel
{
    [FromRoute(Name = "keyId")]
    public string KeyId { get; set; } = "";

    public async Task<IActionResult> OnGetAsync()
    {
        ViewData["Section"] = "keys";
        return await OwnKeyAsync() ? Page() : NotFound();
    }

    public async Task<IActionResult> OnPostAsync()
    {
        if (!await OwnKeyAsync()) return NotFound();
        await Service<KeyStore>().RevokeAsync(KeyId);
        return Redirect(ConsoleUrls.Keys(Account) + "?revoked=" + Uri.EscapeDataString(KeyId));
    }

    private async Task<bool> OwnKeyAsync() => await Service<KeyStore>().AccountOfAsync(KeyId) == Account;
}
