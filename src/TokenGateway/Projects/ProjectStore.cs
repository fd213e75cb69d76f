using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;
using TokenGateway.Billing;
using TokenGateway.Billing.Scripts;
using TokenGateway.Redis;

namespace TokenGateway.Projects;

/// <param name="Thresholds">Alert percentages of the hard limit (of the soft limit when there is none), ascending.</param>
internal sealed record ProjectSnapshot(
    string Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset? ArchivedAt, long? HardLimitMicros, long? SoftLimitMicros,
    long MonthSpendMicros, long HeldMicros, IReadOnlyList<int> Thresholds)
{
    public string Status => ArchivedAt is null ? "active" : "archived";
}

internal enum ProjectChange { Done, NoAccount, NoProject, Exists, Archived }

/// <summary>
/// Projects of an account (OpenAI's organization → projects → keys). Their names live in the account's projects hash;
/// what the scripts enforce (status, monthly hard and soft limits, alert percentages) and count (month spend, held) lives
/// in the account hash, read by reserve.lua and settle.lua in their one round trip: <c>pstatus:</c>, <c>phard:</c>,
/// <c>psoft:</c>, <c>palerts:</c>, <c>pspend:&lt;month&gt;:</c>, <c>pheld:</c>. The <c>default</c> project always exists:
/// keys created without a project, and keys made before projects existed, belong to it.
/// </summary>
internal sealed class ProjectStore(RedisConnector redis, TimeProvider clock)
{
    public const string Default = "default";

    private sealed record Meta(string Name, long CreatedMs, long? ArchivedMs);

    public async Task<ProjectChange> CreateAsync(string accountId, string projectId, string name)
    {
        var keys = new AccountKeys(accountId);
        var db = await redis.DatabaseAsync();
        if (!await db.KeyExistsAsync(keys.Account)) return ProjectChange.NoAccount;
        if (projectId == Default) return ProjectChange.Exists;
        var meta = JsonSerializer.Serialize(new Meta(name, clock.GetUtcNow().ToUnixTimeMilliseconds(), null));
        return await db.HashSetAsync(keys.Projects, projectId, meta, When.NotExists) ? ProjectChange.Done : ProjectChange.Exists;
    }

    /// <summary>Archived: its keys are refused (401) on the next request on every replica; its history stays.</summary>
    public async Task<ProjectChange> ArchiveAsync(string accountId, string projectId)
    {
        var keys = new AccountKeys(accountId);
        var db = await redis.DatabaseAsync();
        if (!await db.KeyExistsAsync(keys.Account)) return ProjectChange.NoAccount;
        if (await db.HashGetAsync(keys.Projects, projectId) is not { HasValue: true } stored) return ProjectChange.NoProject;
        var meta = JsonSerializer.Deserialize<Meta>((string)stored!)!;
        if (meta.ArchivedMs is not null) return ProjectChange.Archived;
        // NOTE: the status the reserve script reads first, then the record the API shows.
        await db.HashSetAsync(keys.Account, "pstatus:" + projectId, "archived");
        await db.HashSetAsync(keys.Projects, projectId, JsonSerializer.Serialize(meta with { ArchivedMs = clock.GetUtcNow().ToUnixTimeMilliseconds() }));
        return ProjectChange.Done;
    }

    /// <summary>A project that exists and is not archived (a new key may join only such a project).</summary>
    public async Task<bool> IsActiveAsync(string accountId, string projectId)
    {
        if (projectId == Default) return true;
        var stored = await (await redis.DatabaseAsync()).HashGetAsync(new AccountKeys(accountId).Projects, projectId);
        return stored.HasValue && JsonSerializer.Deserialize<Meta>((string)stored!)!.ArchivedMs is null;
    }

    /// <summary>Monthly limits; null removes one.</summary>
    public Task<ProjectChange> SetLimitsAsync(string accountId, string projectId, long? hardMicros, long? softMicros) =>
        SetFieldsAsync(accountId, projectId,
        [
            new("phard:" + projectId, hardMicros?.ToString(CultureInfo.InvariantCulture) ?? ""),
            new("psoft:" + projectId, softMicros?.ToString(CultureInfo.InvariantCulture) ?? ""),
        ]);

    public Task<ProjectChange> SetAlertsAsync(string accountId, string projectId, IReadOnlyList<int> percentages) =>
        SetFieldsAsync(accountId, projectId, [new("palerts:" + projectId, string.Join(',', percentages))]);

    private async Task<ProjectChange> SetFieldsAsync(string accountId, string projectId, HashEntry[] fields)
    {
        var keys = new AccountKeys(accountId);
        var db = await redis.DatabaseAsync();
        if (!await db.KeyExistsAsync(keys.Account)) return ProjectChange.NoAccount;
        if (projectId != Default && !await db.HashExistsAsync(keys.Projects, projectId)) return ProjectChange.NoProject;
        await db.HashSetAsync(keys.Account, fields);
        return ProjectChange.Done;
    }

    /// <summary>Every project of the account, <c>default</c> first; null when the account does not exist.</summary>
    public async Task<IReadOnlyList<ProjectSnapshot>?> ListAsync(string accountId, DateTimeOffset now)
    {
        var keys = new AccountKeys(accountId);
        var db = await redis.DatabaseAsync();
        var account = await db.HashGetAllAsync(keys.Account);
        if (account.Length == 0) return null;
        var fields = account.ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal);
        var created = fields.TryGetValue("created_ms", out var c) ? long.Parse(c, CultureInfo.InvariantCulture) : 0;
        var metas = new List<(string Id, Meta Meta)> { (Default, new Meta("Default project", created, null)) };
        foreach (var e in (await db.HashGetAllAsync(keys.Projects)).OrderBy(e => (string)e.Name!, StringComparer.Ordinal))
            metas.Add(((string)e.Name!, JsonSerializer.Deserialize<Meta>((string)e.Value!)!));
        var month = BillingScripts.Month(now);
        long? Optional(string name) => fields.TryGetValue(name, out var v) && v.Length > 0 ? long.Parse(v, CultureInfo.InvariantCulture) : null;
        return [.. metas.Select(m => new ProjectSnapshot(m.Id, m.Meta.Name, DateTimeOffset.FromUnixTimeMilliseconds(m.Meta.CreatedMs),
            m.Meta.ArchivedMs is long a ? DateTimeOffset.FromUnixTimeMilliseconds(a) : null,
            Optional("phard:" + m.Id), Optional("psoft:" + m.Id), Optional($"pspend:{month}:{m.Id}") ?? 0, Optional("pheld:" + m.Id) ?? 0,
            AlertSettings.ParsePercentages(fields.GetValueOrDefault("palerts:" + m.Id))))];
    }
}
