using System.Globalization;
using CsvHelper;
using StackExchange.Redis;
using TokenGateway.Billing;
using TokenGateway.Errors;
using TokenGateway.Pricing;
using TokenGateway.Redis;

namespace TokenGateway.Admin;

/// <summary>
/// Chargeback exports for finance tools: <c>ledger.csv</c> and <c>usage.csv</c>, RFC 4180 (CsvHelper), streamed page by
/// page (bounded memory whatever the ledger's length). Text that a spreadsheet would run as a formula is escaped.
/// </summary>
internal static class CsvExports
{
    private const int PageSize = 500;

    private static readonly CsvWriterOptions Options = new() { Injection = CsvInjection.Escape };

    private static readonly string[] LedgerTextColumns = ["project_id", "key_id", "model", "request_id", "grant_id", "source", "mode", "service_tier"];

    public static void MapCsvExports(this RouteGroupBuilder admin)
    {
        admin.MapGet("/accounts/{id}/ledger.csv", LedgerAsync);
        admin.MapGet("/accounts/{id}/usage.csv", UsageAsync);
    }

    private static IResult Bad(string message, string param) => OpenAIError.Result(400, "invalid_request_error", "invalid_request", message, param);

    private static DateOnly? Date(string? value) =>
        DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d : null;

    /// <summary>
    /// The ledger's filters: <c>cursor</c> (after this entry) and <c>limit</c> (rows, default all), plus <c>from</c> and
    /// <c>to</c> (dates, UTC, inclusive).
    /// </summary>
    private static async Task<IResult> LedgerAsync(string id, string? from, string? to, string? limit, string? cursor, HttpContext context, BillingStore billing, RedisConnector redis)
    {
        if (!AdminQuery.TryParseLimit(limit, int.MaxValue, int.MaxValue, out var rows)) return Bad("'limit' must be a positive integer (rows).", "limit");
        if (cursor is not null && !AdminQuery.IsLedgerCursor(cursor)) return Bad("'cursor' is not a cursor this API returned.", "cursor");
        DateOnly? start = null, end = null;
        if (from is not null && (start = Date(from)) is null) return Bad("'from' must be a date (yyyy-MM-dd).", "from");
        if (to is not null && (end = Date(to)) is null) return Bad("'to' must be a date (yyyy-MM-dd).", "to");
        if (!AdminEndpoints.AccountIdPattern().IsMatch(id) || await billing.ReadAccountAsync(id) is null)
            return OpenAIError.Result(404, "invalid_request_error", "not_found", "No account with that id.");

        // NOTE: entry ids are their dates in ms (see prelude.lua ledger_add), so a date range is an id range.
        var min = start is { } s ? Ms(s) + "-0" : "-";
        // A cursor at or after the start of `from` starts the export after it.
        if (cursor is not null && (start is null || ulong.Parse(cursor.Split('-')[0], CultureInfo.InvariantCulture) >= (ulong)Ms(start.Value))) min = "(" + cursor;
        var max = end is { } e ? (Ms(e.AddDays(1)) - 1) + "-18446744073709551615" : "+";
        await StartAsync(context, $"ledger-{id}.csv");
        var ledger = new AccountKeys(id).Ledger;
        var db = await redis.DatabaseAsync();
        await WriteAsync(context,
            csv => csv.WriteHeader(["id", "created_at", "type", "amount_usd", "amount_micros", "balance_micros", .. LedgerTextColumns, .. BilledDimensions.ReportFields]),
            async csv =>
            {
                var page = await db.StreamRangeAsync(ledger, min, max, count: Math.Min(PageSize, rows));
                foreach (var entry in page) WriteLedgerRow(csv, entry);
                rows -= page.Length;
                if (page.Length > 0) min = "(" + (string)page[^1].Id!;
                return page.Length == PageSize && rows > 0;
            });
        return Results.Empty;

        static long Ms(DateOnly d) => new DateTimeOffset(d.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToUnixTimeMilliseconds();
    }

    private static void WriteLedgerRow(CsvWriter csv, StreamEntry entry)
    {
        var f = entry.Values.ToDictionary(v => (string)v.Name!, v => (string)v.Value!, StringComparer.Ordinal);
        var amount = long.Parse(f["amount"], CultureInfo.InvariantCulture);
        csv.WriteField((string)entry.Id!);
        csv.WriteField(DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(f["ts"], CultureInfo.InvariantCulture)), "yyyy-MM-ddTHH:mm:ss.fffZ");
        csv.WriteField(f["type"]);
        csv.WriteField(Money.ToUsd(amount), "");
        csv.WriteField(amount, "");
        csv.WriteField(long.Parse(f["balance"], CultureInfo.InvariantCulture), "");
        foreach (var column in LedgerTextColumns) csv.WriteField(f.GetValueOrDefault(column, ""));
        foreach (var column in BilledDimensions.ReportFields) csv.WriteField(f.TryGetValue(column, out var n) ? long.Parse(n, CultureInfo.InvariantCulture) : 0, "");
        csv.EndRecord();
    }

    /// <summary>
    /// The usage report's filters (<c>from</c>, <c>to</c>, <c>group_by</c>); without <c>group_by</c>, one row per day,
    /// project, key and model: the finest grain the counters have, for a chargeback by any of them.
    /// </summary>
    private static async Task<IResult> UsageAsync(string id, string? from, string? to, string? group_by, HttpContext context, BillingStore billing, UsageReport usage, TimeProvider clock)
    {
        if (group_by is not (null or "day" or "model" or "key" or "project")) return Bad("'group_by' must be day, model, key or project (or absent: all four).", "group_by");
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var start = from is null ? new DateOnly(today.Year, today.Month, 1) : Date(from);
        var end = to is null ? today : Date(to);
        if (start is null) return Bad("'from' must be a date (yyyy-MM-dd).", "from");
        if (end is null) return Bad("'to' must be a date (yyyy-MM-dd).", "to");
        if (end < start || end.Value.DayNumber - start.Value.DayNumber >= UsageReport.MaxDays)
            return Bad($"'to' must be on or after 'from', at most {UsageReport.MaxDays - 1} days later.", "to");
        if (!AdminEndpoints.AccountIdPattern().IsMatch(id) || await billing.ReadAccountAsync(id) is null)
            return OpenAIError.Result(404, "invalid_request_error", "not_found", "No account with that id.");

        await StartAsync(context, $"usage-{id}.csv");
        var day = start.Value;
        var groupField = group_by switch { null => null, "key" => "key_id", "project" => "project_id", _ => group_by };
        string[] groupColumns = groupField is null ? ["date", "project_id", "key_id", "model"] : [groupField];
        var grouped = group_by is null ? null : await usage.ReadAsync(id, start.Value, end.Value, group_by);
        await WriteAsync(context,
            csv => csv.WriteHeader([.. groupColumns, "requests", "cost_usd", "cost_micros", .. BilledDimensions.ReportFields]),
            async csv =>
            {
                IEnumerable<UsageRow> rows;
                if (grouped is not null)
                {
                    rows = grouped;
                }
                else
                {
                    // A day a page: each day's counters, one row per (project, key, model).
                    var cells = (await usage.ReadCellsAsync(id, UsagePeriod.Day, [new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero)]))[0];
                    var date = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
                    rows = cells.GroupBy(c => (c.ProjectId, c.KeyId, c.Model)).OrderBy(g => g.Key)
                        .Select(g => UsageReport.Sum(date + "|" + g.Key.ProjectId + "|" + g.Key.KeyId + "|" + g.Key.Model, g));
                }
                foreach (var row in rows)
                {
                    foreach (var value in row.Group.Split('|', groupColumns.Length)) csv.WriteField(value);
                    csv.WriteField(row.Requests, "");
                    csv.WriteField(Money.ToUsd(row.CostMicros), "");
                    csv.WriteField(row.CostMicros, "");
                    foreach (var metric in row.Metrics) csv.WriteField(metric, "");
                    csv.EndRecord();
                }
                day = day.AddDays(1);
                return grouped is null && day <= end.Value;
            });
        return Results.Empty;
    }

    private static Task StartAsync(HttpContext context, string fileName)
    {
        context.Response.ContentType = "text/csv; charset=utf-8";
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{fileName}\"";
        return context.Response.StartAsync(context.RequestAborted);
    }

    /// <summary>
    /// Writes the header, then pages until <paramref name="page"/> says there are no more. NOTE: the writer fills a
    /// buffer synchronously, and each page's bytes go to the client asynchronously (Kestrel refuses synchronous writes).
    /// </summary>
    private static async Task WriteAsync(HttpContext context, Action<CsvWriter> header, Func<CsvWriter, Task<bool>> page)
    {
        using var buffer = new MemoryStream();
        await using var csv = CsvWriter.Create(buffer, Options, leaveOpen: true);
        header(csv);
        bool more;
        do
        {
            more = await page(csv);
            csv.Flush();
            buffer.Position = 0;
            await buffer.CopyToAsync(context.Response.Body, context.RequestAborted);
            buffer.SetLength(0);
        }
        while (more && !context.RequestAborted.IsCancellationRequested);
    }
}
