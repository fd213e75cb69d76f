using System.Text.Json.Serialization;
using TokenGateway.Admin;
using TokenGateway.Errors;

namespace TokenGateway.RateLimits;

/// <summary>
/// Admin routes of the rate limits of a key, an account and a project, mapped into the admin group (its token, error
/// mapping and filters). A PUT replaces the scope's limits: a limit absent or null is removed.
/// </summary>
internal static class RateLimitEndpoints
{
    /// <summary>The largest cap on requests in flight.</summary>
    private const long MaxInFlight = 1_000_000;

    public static void MapRateLimits(this RouteGroupBuilder admin)
    {
        admin.MapGet("/keys/{keyId}/rate-limits", async (string keyId, RateLimitStore store) => await GetAsync(store, await store.ForKeyAsync(keyId), "key", keyId));
        admin.MapPut("/keys/{keyId}/rate-limits", async (string keyId, HttpContext context, RateLimitStore store) =>
            await PutAsync(context, store, () => store.ForKeyAsync(keyId), "key", keyId));
        admin.MapGet("/accounts/{id}/rate-limits", async (string id, RateLimitStore store) =>
            await GetAsync(store, AdminEndpoints.AccountIdPattern().IsMatch(id) ? await store.ForAccountAsync(id) : null, "account", id));
        admin.MapPut("/accounts/{id}/rate-limits", async (string id, HttpContext context, RateLimitStore store) =>
            await PutAsync(context, store, async () => AdminEndpoints.AccountIdPattern().IsMatch(id) ? await store.ForAccountAsync(id) : null, "account", id));
        admin.MapGet("/accounts/{id}/projects/{projectId}/rate-limits", async (string id, string projectId, RateLimitStore store) =>
            await GetAsync(store, await ProjectAsync(store, id, projectId), "project", projectId));
        admin.MapPut("/accounts/{id}/projects/{projectId}/rate-limits", async (string id, string projectId, HttpContext context, RateLimitStore store) =>
            await PutAsync(context, store, () => ProjectAsync(store, id, projectId), "project", projectId));
    }

    private static async Task<RateLimitTarget?> ProjectAsync(RateLimitStore store, string id, string projectId) =>
        AdminEndpoints.AccountIdPattern().IsMatch(id) && AdminEndpoints.AccountIdPattern().IsMatch(projectId) ? await store.ForProjectAsync(id, projectId) : null;

    private static IResult Invalid(string message, string param) => OpenAIError.Result(400, "invalid_request_error", "invalid_request", message, param);

    private static IResult NotFound(string scope) => OpenAIError.Result(404, "invalid_request_error", "not_found",
        scope == "project" ? "No project with that id in this account." : $"No {scope} with that id.");

    private static async Task<IResult> GetAsync(RateLimitStore store, RateLimitTarget? target, string scope, string id) =>
        target is { } t ? View(await store.GetAsync(t), scope, id) : NotFound(scope);

    private static async Task<IResult> PutAsync(HttpContext context, RateLimitStore store, Func<Task<RateLimitTarget?>> find, string scope, string id)
    {
        var (body, invalid) = await AdminJson.ReadAsync<RateLimitsBody>(context);
        if (body is null) return invalid!;
        if (Validate(body, out var error) is not { } settings) return error!;
        if (await find() is not { } target) return NotFound(scope);
        await store.SetAsync(target, settings);
        return View(settings, scope, id);
    }

    /// <summary>The settings a body asks for; null (and the 400) when a value is out of range or a model name is not one.</summary>
    private static RateLimitSettings? Validate(RateLimitsBody body, out IResult? error)
    {
        error = null;
        foreach (var (name, value, max) in new[] { ("rpm", body.Rpm, RateLimitSettings.MaxLimit), ("tpm", body.Tpm, RateLimitSettings.MaxLimit),
            ("rpd", body.Rpd, RateLimitSettings.MaxLimit), ("max_in_flight", body.MaxInFlight, MaxInFlight) })
        {
            if (value is < 1 || value > max)
            {
                error = Invalid($"'{name}' must be a whole number from 1 to {max}, or null (no limit).", name);
                return null;
            }
        }
        var models = new SortedDictionary<string, ModelRateLimits>(StringComparer.Ordinal);
        if (body.Models is { } given)
        {
            if (given.Count > RateLimitSettings.MaxModels)
            {
                error = Invalid($"'models' has at most {RateLimitSettings.MaxModels} models.", "models");
                return null;
            }
            foreach (var (model, limits) in given)
            {
                if (!RateLimitSettings.ModelPattern().IsMatch(model) || limits is { Rpm: < 1 or > RateLimitSettings.MaxLimit } or { Tpm: < 1 or > RateLimitSettings.MaxLimit })
                {
                    error = Invalid($"'models' maps exact model names (letters, digits, . _ : / -; at most 128 characters) to {{\"rpm\",\"tpm\"}}: whole numbers from 1 to {RateLimitSettings.MaxLimit}, or null.", "models");
                    return null;
                }
                if (limits is { } l && (l.Rpm is not null || l.Tpm is not null)) models[model] = new ModelRateLimits(l.Rpm, l.Tpm);
            }
        }
        return new RateLimitSettings(body.Rpm, body.Tpm, body.Rpd, body.MaxInFlight, models.Count > 0 ? models : null);
    }

    private static IResult View(RateLimitSettings s, string scope, string id) => Results.Json(new
    {
        Object = "rate_limits",
        Scope = scope,
        Id = id,
        s.Rpm,
        s.Tpm,
        s.Rpd,
        s.MaxInFlight,
        Models = s.Models ?? new Dictionary<string, ModelRateLimits>(),
    }, AdminJson.Options);
}

/// <summary>
/// A PUT body; an unknown property (a typo such as "rmp") is refused rather than read as "no limit", and a limit must be a
/// JSON number (not "60", which the admin API's web defaults would otherwise read).
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
[JsonNumberHandling(JsonNumberHandling.Strict)]
internal sealed record RateLimitsBody(long? Rpm, long? Tpm, long? Rpd, long? MaxInFlight, Dictionary<string, ModelRateLimitsBody?>? Models);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
[JsonNumberHandling(JsonNumberHandling.Strict)]
internal sealed record ModelRateLimitsBody(long? Rpm, long? Tpm);
