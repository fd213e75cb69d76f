using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Mvc;

namespace TokenGateway.BillingConsole.Pages;

/// <summary>Spend and tokens per day of a month, split by model, project or key: chart, table, CSV.</summary>
public sealed class UsageModel : ConsolePageModel
{
    internal IReadOnlyList<UsagePoint> Points { get; private set; } = [];
    public IReadOnlyList<DateOnly> Days { get; private set; } = [];
    public IReadOnlyList<string> Groups { get; private set; } = [];
    public DateOnly Month { get; private set; }
    public string Split { get; private set; } = "model";
    public IReadOnlyList<DateOnly> Months { get; private set; } = [];

    internal long Value(DateOnly day, string group, Func<UsagePoint, long> metric) =>
        Points.Where(p => p.Day == day && p.Group == group).Sum(metric);

    public async Task OnGetAsync([FromQuery] string? month, [FromQuery] string? by) => await LoadAsync(month, by);

    public async Task<IActionResult> OnGetCsvAsync([FromQuery] string? month, [FromQuery] string? by)
    {
        await LoadAsync(month, by);
        var csv = new StringBuilder("date,").Append(ConsoleData.GroupColumn(Split).CsvField).Append(",requests,input_tokens,output_tokens,cost_usd,cost_micros\n");
        foreach (var p in Points)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{p.Day:yyyy-MM-dd},{Csv.Field(p.Group)},{p.Requests},{p.InputTokens},{p.OutputTokens},{ConsoleFormat.Plain(p.CostMicros)},{p.CostMicros}\n");
        }
        return File(Encoding.UTF8.GetBytes(csv.ToString()), "text/csv; charset=utf-8", $"usage-{Account}-{Month:yyyy-MM}-by-{Split}.csv");
    }

    private async Task LoadAsync(string? month, string? by)
    {
        ViewData["Section"] = "usage";
        var today = DateOnly.FromDateTime(Service<TimeProvider>().GetUtcNow().UtcDateTime);
        var thisMonth = new DateOnly(today.Year, today.Month, 1);
        Month = DateOnly.TryParseExact(month, "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.None, out var m) && m <= thisMonth && m > thisMonth.AddMonths(-13)
            ? m : thisMonth;
        Split = ConsoleData.UsageSplits.Contains(by) ? by! : ConsoleData.UsageSplits[0];
        Months = [.. Enumerable.Range(0, 13).Select(i => thisMonth.AddMonths(-i))];
        Points = await Service<ConsoleData>().UsageMonthAsync(Account, Month, Split);
        var last = Month.AddMonths(1).AddDays(-1) < today ? Month.AddMonths(1).AddDays(-1) : today;
        Days = [.. Enumerable.Range(0, last.DayNumber - Month.DayNumber + 1).Select(Month.AddDays)];
        // Groups by spend, largest first: the chart's colours and the legend follow that order.
        Groups = [.. Points.GroupBy(p => p.Group).OrderByDescending(g => g.Sum(p => p.CostMicros)).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key)];
    }
}

/// <summary>CSV fields (RFC 4180), with a leading = + - @ neutralised so a spreadsheet never runs a client-chosen name as a formula.</summary>
internal static class Csv
{
    public static string Field(string? value)
    {
        var v = value ?? "";
        if (v.Length > 0 && v[0] is '=' or '+' or '-' or '@') v = "'" + v;
        return v.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + v.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : v;
    }
}
