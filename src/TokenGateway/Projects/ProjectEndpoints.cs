using TokenGateway.Admin;
using TokenGateway.Errors;
using TokenGateway.Pricing;

namespace TokenGateway.Projects;

/// <summary>Admin routes of an account's projects, mapped into the admin group (its token, error mapping and filters).</summary>
internal static class ProjectEndpoints
{
    public static void MapProjects(this RouteGroupBuilder admin)
    {
        admin.MapPost("/accounts/{id}/projects", Create);
        admin.MapGet("/accounts/{id}/projects", List);
        admin.MapDelete("/accounts/{id}/projects/{projectId}", Archive);
        admin.MapPut("/accounts/{id}/projects/{projectId}/limits", SetLimits);
        admin.MapPut("/accounts/{id}/projects/{projectId}/alerts", SetAlerts);
    }

    private static IResult Error(int status, string code, string message, string? param = null) =>
        OpenAIError.Result(status, "invalid_request_error", code, message, param);

    /// <summary>The answer to a change that was not made.</summary>
    private static IResult Failure(ProjectChange change) => change switch
    {
        ProjectChange.NoAccount => Error(404, "not_found", "No account with that id."),
        ProjectChange.Exists => Error(409, "project_exists", "A project with that id already exists in this account.", "id"),
        ProjectChange.Archived => Error(409, "project_archived", "This project is already archived."),
        _ => Error(404, "not_found", "No project with that id in this account."),
    };

    private static bool ValidIds(string id, string projectId) =>
        AdminEndpoints.AccountIdPattern().IsMatch(id) && AdminEndpoints.AccountIdPattern().IsMatch(projectId);

    private static async Task<IResult> Create(string id, HttpContext context, ProjectStore projects, TimeProvider clock)
    {
        var (body, invalid) = await AdminJson.ReadAsync<CreateProjectBody>(context);
        if (body is null) return invalid!;
        if (body.Id is null || !AdminEndpoints.AccountIdPattern().IsMatch(body.Id))
            return Error(400, "invalid_request", "'id' is required: 1-64 characters of a-z 0-9 _ -, starting with a letter or digit.", "id");
        if (!AdminEndpoints.AccountIdPattern().IsMatch(id)) return Error(404, "not_found", "No account with that id.");
        var change = await projects.CreateAsync(id, body.Id, body.Name ?? body.Id);
        return change == ProjectChange.Done ? await ViewAsync(projects, id, body.Id, clock, 201) : Failure(change);
    }

    private static async Task<IResult> List(string id, ProjectStore projects, TimeProvider clock)
    {
        if (!AdminEndpoints.AccountIdPattern().IsMatch(id) || await projects.ListAsync(id, clock.GetUtcNow()) is not { } list)
            return Error(404, "not_found", "No account with that id.");
        return Results.Json(new { Object = "list", Data = list.Select(View) }, AdminJson.Options);
    }

    private static async Task<IResult> Archive(string id, string projectId, ProjectStore projects, TimeProvider clock)
    {
        if (!ValidIds(id, projectId)) return Error(404, "not_found", "No project with that id in this account.");
        if (projectId == ProjectStore.Default) return Error(400, "invalid_request", "The default project cannot be archived.", "projectId");
        var change = await projects.ArchiveAsync(id, projectId);
        return change == ProjectChange.Done ? await ViewAsync(projects, id, projectId, clock) : Failure(change);
    }

    private static async Task<IResult> SetLimits(string id, string projectId, HttpContext context, ProjectStore projects, TimeProvider clock)
    {
        var (body, invalid) = await AdminJson.ReadAsync<LimitsBody>(context);
        if (body is null) return invalid!;
        var (hard, soft, refused) = LimitsRules.Validate(body);
        if (refused is not null) return refused;
        if (!ValidIds(id, projectId)) return Error(404, "not_found", "No project with that id in this account.");
        var change = await projects.SetLimitsAsync(id, projectId, hard, soft);
        return change == ProjectChange.Done ? await ViewAsync(projects, id, projectId, clock) : Failure(change);
    }

    private static async Task<IResult> SetAlerts(string id, string projectId, HttpContext context, ProjectStore projects, TimeProvider clock)
    {
        var (body, invalid) = await AdminJson.ReadAsync<AlertsBody>(context);
        if (body is null) return invalid!;
        if (AlertThresholds.Validate(body.ThresholdsPercent) is not { } percentages) return AlertThresholds.Invalid;
        if (body.LowBalanceUsd is not null) return Error(400, "invalid_request", "'low_balance_usd' belongs to the account's alerts: a project has no balance of its own.", "low_balance_usd");
        if (!ValidIds(id, projectId)) return Error(404, "not_found", "No project with that id in this account.");
        var change = await projects.SetAlertsAsync(id, projectId, percentages);
        return change == ProjectChange.Done ? await ViewAsync(projects, id, projectId, clock) : Failure(change);
    }

    private static async Task<IResult> ViewAsync(ProjectStore projects, string id, string projectId, TimeProvider clock, int status = 200) =>
        (await projects.ListAsync(id, clock.GetUtcNow()))?.FirstOrDefault(p => p.Id == projectId) is { } p
            ? Results.Json(View(p), AdminJson.Options, statusCode: status)
            : Error(404, "not_found", "No project with that id in this account.");

    /// <summary>OpenAI's project object (<c>organization.project</c>) plus the gateway's limits, spend and alerts.</summary>
    private static object View(ProjectSnapshot p) => new
    {
        Object = "organization.project",
        p.Id,
        p.Name,
        p.Status,
        CreatedAt = p.CreatedAt.ToUnixTimeSeconds(),
        ArchivedAt = p.ArchivedAt?.ToUnixTimeSeconds(),
        HardLimitUsd = p.HardLimitMicros is long h ? Money.ToUsd(h) : (decimal?)null,
        SoftLimitUsd = p.SoftLimitMicros is long s ? Money.ToUsd(s) : (decimal?)null,
        MonthSpendUsd = Money.ToUsd(p.MonthSpendMicros),
        p.MonthSpendMicros,
        p.HeldMicros,
        ThresholdsPercent = p.Thresholds,
    };
}

internal sealed record CreateProjectBody(string? Id, string? Name);

/// <summary>Alert percentages as an admin sets them: whole percentages of the limit, 1 to 1,000, at most 10.</summary>
internal static class AlertThresholds
{
    public static readonly IResult Invalid = OpenAIError.Result(400, "invalid_request_error", "invalid_request",
        "'thresholds_percent' must be a list of at most 10 whole percentages from 1 to 1000 (e.g. [50, 80, 100]); [] removes them.", "thresholds_percent");

    /// <summary>Sorted and without repeats; null when invalid. Absent means none.</summary>
    public static IReadOnlyList<int>? Validate(int[]? percentages) =>
        percentages is null ? [] : percentages.Length <= 10 && percentages.All(p => p is >= 1 and <= 1000) ? [.. percentages.Distinct().Order()] : null;
}
