using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using TokenGateway.Admin;
using TokenGateway.Configuration;
using TokenGateway.Keys;
using TokenGateway.Projects;

namespace TokenGateway.BillingConsole.Pages;

/// <summary>The team's gateway keys: list, create (the secret shown once), rotate (with the grace period), revoke (confirmed on its own page).</summary>
public sealed class KeysModel : ConsolePageModel
{
    internal IReadOnlyList<KeyRow> Keys { get; private set; } = [];
    /// <summary>The team's active projects, the ones a new key may join (<c>default</c> first).</summary>
    internal IReadOnlyList<ProjectSnapshot> Projects { get; private set; } = [];
    public string? Error { get; private set; }
    public string? Notice { get; private set; }
    /// <summary>A secret just created or rotated: in this answer only, never stored, never shown again.</summary>
    public string? NewSecret { get; private set; }
    public string? NewSecretKeyId { get; private set; }
    public int GraceSeconds => Service<IOptions<GatewayOptions>>().Value.Keys.RotationGraceSeconds;

    public async Task OnGetAsync([FromQuery] string? revoked)
    {
        if (revoked is not null) Notice = $"Key {revoked} revoked: it is refused from the next request on.";
        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        ViewData["Section"] = "keys";
        Keys = await Service<ConsoleData>().KeysAsync(Account);
        Projects = [.. (await Service<ProjectStore>().ListAsync(Account, Service<TimeProvider>().GetUtcNow()) ?? []).Where(p => p.ArchivedAt is null)];
    }

    public async Task<IActionResult> OnPostCreateAsync([FromForm] string? name, [FromForm] string? models, [FromForm] string? budget, [FromForm] string? expires,
        [FromForm] string? project)
    {
        var allow = string.IsNullOrWhiteSpace(models) ? null : models.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        long? budgetMicros = null;
        if (!string.IsNullOrWhiteSpace(budget) && (budgetMicros = ConsoleFormat.ParseUsd(budget)) is null or < 0)
            return await Invalid("The monthly budget is an amount in USD, or empty for none.");
        var (expiresAt, badExpiry) = ConsoleFormat.ParseExpiry(expires, Service<TimeProvider>().GetUtcNow());
        if (badExpiry is not null) return await Invalid(badExpiry);
        // NOTE: the admin API's rule (an active project of this team): a project of another team is simply not one here.
        project = string.IsNullOrEmpty(project) ? ProjectStore.Default : project;
        if (!AdminEndpoints.AccountIdPattern().IsMatch(project) || !await Service<ProjectStore>().IsActiveAsync(Account, project))
            return await Invalid("Choose an active project of this team.");
        var (id, secret) = await Service<KeyStore>().CreateAsync(Account, name?.Trim() ?? "", allow, budgetMicros, expiresAt, project);
        (NewSecret, NewSecretKeyId) = (secret, id);
        Notice = $"Key {id} created in project {project}. Copy its secret now: it is not shown again.";
        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostRotateAsync([FromForm] string? keyId)
    {
        var keys = Service<KeyStore>();
        if (keyId is null || await keys.AccountOfAsync(keyId) != Account) return NotFound();
        if (await keys.RotateAsync(keyId) is not string secret) return NotFound();
        (NewSecret, NewSecretKeyId) = (secret, keyId);
        var grace = TimeSpan.FromSeconds(GraceSeconds);
        Notice = $"Key {keyId} rotated. Copy the new secret now: it is not shown again. The previous secret keeps working for {(grace.TotalHours >= 1 ? $"{grace.TotalHours:0.#} hours" : $"{grace.TotalSeconds:0} seconds")}.";
        await LoadAsync();
        return Page();
    }

    private async Task<IActionResult> Invalid(string error)
    {
        Error = error;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        await LoadAsync();
        return Page();
    }
}
