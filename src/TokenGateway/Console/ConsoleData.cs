using System.Globalization;
using StackExchange.Redis;
using TokenGateway.Billing;
using TokenGateway.Redis;

namespace TokenGateway.BillingConsole;

/// <summary>A gateway key as the API keys page lists it (never its secret, nor its hash).</summary>
internal sealed record KeyRow(
    string Id, string Name, string Project, DateTimeOffset? CreatedAt, DateOnly? LastUsed, long? MonthlyLimitMicros, string Models,
    DateTimeOffset? ExpiresAt, string Status, DateTimeOffset? PreviousSecretUntil);

/// <summary>One day's usage of one group (a model, a project or a key).</summary>
internal sealed record UsagePoint(DateOnly Day, string Group, long Requests, long InputTokens, long OutputTokens, long CostMicros);

/// <summary>The reads the console's pages need beyond what the billing store offers: teams, keys, ledger pages, usage per day.</summary>
internal sealed class ConsoleData(RedisConnector redis, BillingStore billing, UsageReport usage, TimeProvider clock)
{
    /// <summary>How usage can be split: the usage report's groupings.</summary>
    public static readonly string[] UsageSplits = ["model", "project", "key"];

    /// <summary>The column a split's group is named by, on the page and in the CSV (the admin API's field names).</summary>
    public static (string Heading, string CsvField) GroupColumn(string split) => split switch
    {
        "key" => ("Key id", "key_id"),
        "project" => ("Project", "project_id"),
        _ => ("Model", "model"),
    };

    /// <summary>Ledger kinds the transactions page filters by; a recharge is a grant whose source is auto_recharge.</summary>
    public static readonly string[] LedgerKinds = ["grant", "debit", "expiry", "recharge", "adjustment"];

    public async Task<IReadOnlyList<string>> TeamsAsync() =>
        [.. (await (await redis.DatabaseAsync()).SetMembersAsync(AccountKeys.AccountIds)).Select(v => (string)v!).Order(StringComparer.Ordinal)];

    public static string KindOf(LedgerEntry e) =>
        e.Fields["type"] == "grant" && e.Fields.GetValueOrDefault("source") == "auto_recharge" ? "recharge" : e.Fields["type"];

    /// <summary>A page of the ledger (oldest first, as the admin API pages it), only entries of <paramref name="kind"/> when given.</summary>
    /// <returns>The entries, and the cursor of the next page (null at the end).</returns>
    public async Task<(List<LedgerEntry> Entries, string? Next)> LedgerPageAsync(string accountId, string? kind, string? cursor, int size)
    {
        var entries = new List<LedgerEntry>();
        // NOTE: a filter may skip many entries: read on in chunks until the page is full or the ledger ends.
        while (true)
        {
            var chunk = await billing.ReadLedgerAsync(accountId, 500, cursor);
            foreach (var e in chunk)
            {
                cursor = e.Id;
                if (kind is not null && KindOf(e) != kind) continue;
                entries.Add(e);
                if (entries.Count == size + 1) return (entries[..size], entries[size - 1].Id);
            }
            if (chunk.Count < 500) return (entries, null);
        }
    }

    /// <summary>Every entry of <paramref name="kind"/> (all when null), for the CSV.</summary>
    public async IAsyncEnumerable<LedgerEntry> LedgerAsync(string accountId, string? kind)
    {
        string? cursor = null;
        while (true)
        {
            var chunk = await billing.ReadLedgerAsync(accountId, 1000, cursor);
            foreach (var e in chunk)
            {
                cursor = e.Id;
                if (kind is null || KindOf(e) == kind) yield return e;
            }
            if (chunk.Count < 1000) yield break;
        }
    }

    /// <summary>Usage of each day of a month (up to today), split by <paramref name="split"/>, from the usage report's day hashes.</summary>
    public async Task<IReadOnlyList<UsagePoint>> UsageMonthAsync(string accountId, DateOnly month, string split)
    {
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var last = new DateOnly(month.Year, month.Month, DateTime.DaysInMonth(month.Year, month.Month));
        if (last > today) last = today;
        var days = Enumerable.Range(0, Math.Max(0, last.DayNumber - month.DayNumber + 1)).Select(month.AddDays).ToList();
        var rows = await Task.WhenAll(days.Select(d => usage.ReadAsync(accountId, d, d, split)));
        var input = Array.IndexOf(BilledDimensions.Metrics, "input");
        var output = Array.IndexOf(BilledDimensions.Metrics, "output");
        return [.. days.Zip(rows).SelectMany(day => day.Second.Select(r => new UsagePoint(day.First, r.Group, r.Requests, r.Metrics[input], r.Metrics[output], r.CostMicros)))];
    }

    public async Task<IReadOnlyList<KeyRow>> KeysAsync(string accountId)
    {
        var db = await redis.DatabaseAsync();
        // NOTE: keys are listed from the global id → account directory (HSCAN): fine for a console, linear in all keys.
        var ids = new List<string>();
        await foreach (var entry in db.HashScanAsync(AccountKeys.KeysById, pageSize: 1000))
        {
            if ((string?)entry.Value == accountId) ids.Add((string)entry.Name!);
        }
        var keys = new AccountKeys(accountId);
        var records = await Task.WhenAll(ids.Select(id => db.HashGetAllAsync(keys.Key(id))));
        var lastUsed = await LastUsedAsync(accountId);
        var now = clock.GetUtcNow();
        return [.. ids.Zip(records).Select(k => Row(k.First, k.Second.ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal), lastUsed, now))
            .OrderByDescending(k => k.CreatedAt)];
    }

    private static KeyRow Row(string id, Dictionary<string, string> f, Dictionary<string, DateOnly> lastUsed, DateTimeOffset now)
    {
        static DateTimeOffset? Ms(string? v) => long.TryParse(v, CultureInfo.InvariantCulture, out var ms) && ms > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
        var expires = Ms(f.GetValueOrDefault("expires_ms"));
        var status = f.GetValueOrDefault("status") ?? "active";
        if (status == "active" && expires <= now) status = "expired";
        var previous = Ms(f.GetValueOrDefault("prev_until_ms"));
        return new KeyRow(id, f.GetValueOrDefault("name") ?? "", f.GetValueOrDefault("project") is { Length: > 0 } p ? p : "default",
            Ms(f.GetValueOrDefault("created_ms")), lastUsed.TryGetValue(id, out var d) ? d : null,
            long.TryParse(f.GetValueOrDefault("monthly_limit"), CultureInfo.InvariantCulture, out var budget) ? budget : null,
            f.GetValueOrDefault("models") ?? "", expires, status, previous > now ? previous : null);
    }

    /// <summary>The last day (within the past 31) each key was used, from the usage report.</summary>
    private async Task<Dictionary<string, DateOnly>> LastUsedAsync(string accountId)
    {
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var days = Enumerable.Range(0, 31).Select(i => today.AddDays(-i)).ToList();
        var rows = await Task.WhenAll(days.Select(d => usage.ReadAsync(accountId, d, d, "key")));
        var last = new Dictionary<string, DateOnly>(StringComparer.Ordinal);
        for (var i = 0; i < days.Count; i++)
        {
            foreach (var r in rows[i]) last.TryAdd(r.Group, days[i]);
        }
        return last;
    }
}
