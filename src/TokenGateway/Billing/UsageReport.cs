using System.Globalization;
using StackExchange.Redis;
using TokenGateway.Redis;

namespace TokenGateway.Billing;

/// <summary>One row of the usage report: counters the settle script maintains, summed over a group.</summary>
/// <param name="Metrics">Sums of <see cref="BilledDimensions.Metrics"/>, in that order.</param>
internal sealed record UsageRow(string Group, long Requests, long CostMicros, long[] Metrics);

/// <summary>One counter of a usage hash: field <c>model|keyId|project|metric</c> (before projects: <c>model|keyId|metric</c>, the default project).</summary>
internal readonly record struct UsageCell(string Model, string KeyId, string ProjectId, string Metric, long Value)
{
    public static UsageCell Parse(string field, long value)
    {
        var metricAt = field.LastIndexOf('|');
        var secondAt = field.LastIndexOf('|', metricAt - 1);
        var thirdAt = secondAt > 0 ? field.LastIndexOf('|', secondAt - 1) : -1;
        var metric = field[(metricAt + 1)..];
        return thirdAt < 0
            ? new UsageCell(field[..secondAt], field[(secondAt + 1)..metricAt], "default", metric, value)
            : new UsageCell(field[..thirdAt], field[(thirdAt + 1)..secondAt], field[(secondAt + 1)..metricAt], metric, value);
    }
}

/// <summary>The period of a usage hash: minute, hour or day (UTC).</summary>
internal enum UsagePeriod { Minute, Hour, Day }

/// <summary>
/// Usage by day, model, key or project, read from the per-period hashes the settle script increments
/// (field <c>model|keyId|project|metric</c>): one HGETALL per period, no scan of the ledger. Days are kept
/// <c>Billing:Retention:UsageDays</c>, hours <see cref="HourRetention"/>, minutes <see cref="MinuteRetention"/>.
/// </summary>
internal sealed class UsageReport(RedisConnector redis)
{
    public const int MaxDays = 366;

    /// <summary>
    /// Minute hashes live 48 hours after their minute: the Usage API's 1m buckets go back that far (OpenAI allows 1,440 of
    /// them, a day). Bounded memory: at most 2,880 hashes per account, each only as wide as that minute's traffic.
    /// </summary>
    public static readonly TimeSpan MinuteRetention = TimeSpan.FromHours(48);

    /// <summary>Hour hashes live 35 days after their hour: the Usage API's 1h buckets (168 at most, a week) over a month back.</summary>
    public static readonly TimeSpan HourRetention = TimeSpan.FromDays(35);

    public static DateTimeOffset MinuteStart(DateTimeOffset t) => new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerMinute, TimeSpan.Zero);

    public static DateTimeOffset HourStart(DateTimeOffset t) => new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerHour, TimeSpan.Zero);

    public static string MinuteName(DateTimeOffset minute) => minute.UtcDateTime.ToString("yyyyMMddHHmm", CultureInfo.InvariantCulture);

    public static string HourName(DateTimeOffset hour) => hour.UtcDateTime.ToString("yyyyMMddHH", CultureInfo.InvariantCulture);

    /// <summary>The counters of each period that starts at one of <paramref name="starts"/> (UTC), in that order.</summary>
    public async Task<IReadOnlyList<UsageCell>[]> ReadCellsAsync(string accountId, UsagePeriod period, IReadOnlyList<DateTimeOffset> starts)
    {
        var keys = new AccountKeys(accountId);
        var db = await redis.DatabaseAsync();
        var hashes = await Task.WhenAll(starts.Select(s => db.HashGetAllAsync(period switch
        {
            UsagePeriod.Minute => keys.UsageMinute(MinuteName(s)),
            UsagePeriod.Hour => keys.UsageHour(HourName(s)),
            _ => keys.UsageDay(s.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture)),
        })));
        return [.. hashes.Select(h => (IReadOnlyList<UsageCell>)[.. h.Select(e => UsageCell.Parse((string)e.Name!, (long)e.Value))])];
    }

    /// <summary>Cells of one group summed into a report row (requests, cost, then <see cref="BilledDimensions.Metrics"/>).</summary>
    public static UsageRow Sum(string group, IEnumerable<UsageCell> cells)
    {
        var sums = new long[BilledDimensions.Metrics.Length + 2];
        foreach (var cell in cells)
        {
            var slot = cell.Metric switch
            {
                "requests" => 0, "cost" => 1, var m => Array.IndexOf(BilledDimensions.Metrics, m) is var at and >= 0 ? at + 2 : -1,
            };
            if (slot >= 0) sums[slot] += cell.Value;
        }
        return new UsageRow(group, sums[0], sums[1], sums[2..]);
    }

    public async Task<IReadOnlyList<UsageRow>> ReadAsync(string accountId, DateOnly from, DateOnly to, string groupBy)
    {
        var days = Enumerable.Range(0, to.DayNumber - from.DayNumber + 1).Select(from.AddDays).ToList();
        var cells = await ReadCellsAsync(accountId, UsagePeriod.Day, [.. days.Select(d => new DateTimeOffset(d.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero))]);
        var grouped = days.SelectMany((day, i) => cells[i].Select(cell => (Group: groupBy switch
        {
            "model" => cell.Model,
            "key" => cell.KeyId,
            "project" => cell.ProjectId,
            _ => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        }, Cell: cell)));
        return [.. grouped.GroupBy(g => g.Group, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => Sum(g.Key, g.Select(x => x.Cell)))];
    }
}
