using System.Globalization;
using StackExchange.Redis;
using TokenGateway.Redis;

namespace TokenGateway.Billing;

/// <summary>One row of the usage report: counters the settle script maintains, summed over a group.</summary>
/// <param name="Metrics">Sums of <see cref="BilledDimensions.Metrics"/>, in that order.</param>
internal sealed record UsageRow(string Group, long Requests, long CostMicros, long[] Metrics);

/// <summary>
/// Usage by day, model or key, read from the per-day hashes the settle script increments
/// (field <c>model|keyId|metric</c>): one HGETALL per day, no scan of the ledger.
/// </summary>
internal sealed class UsageReport(RedisConnector redis)
{
    public const int MaxDays = 366;

    public async Task<IReadOnlyList<UsageRow>> ReadAsync(string accountId, DateOnly from, DateOnly to, string groupBy)
    {
        var keys = new AccountKeys(accountId);
        var db = await redis.DatabaseAsync();
        var days = Enumerable.Range(0, to.DayNumber - from.DayNumber + 1).Select(from.AddDays).ToList();
        var hashes = await Task.WhenAll(days.Select(d => db.HashGetAllAsync(keys.UsageDay(d.ToString("yyyyMMdd", CultureInfo.InvariantCulture)))));
        var rows = new SortedDictionary<string, long[]>(StringComparer.Ordinal);
        for (var i = 0; i < days.Count; i++)
        {
            foreach (var entry in hashes[i])
            {
                var field = (string)entry.Name!;
                var metricAt = field.LastIndexOf('|');
                var keyAt = field.LastIndexOf('|', metricAt - 1);
                var group = groupBy switch
                {
                    "model" => field[..keyAt],
                    "key" => field[(keyAt + 1)..metricAt],
                    _ => days[i].ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                };
                var metric = field[(metricAt + 1)..];
                var slot = metric switch
                {
                    "requests" => 0, "cost" => 1, _ => Array.IndexOf(BilledDimensions.Metrics, metric) is var m and >= 0 ? m + 2 : -1,
                };
                if (slot < 0) continue;
                if (!rows.TryGetValue(group, out var sums)) rows[group] = sums = new long[BilledDimensions.Metrics.Length + 2];
                sums[slot] += (long)entry.Value;
            }
        }
        return [.. rows.Select(r => new UsageRow(r.Key, r.Value[0], r.Value[1], r.Value[2..]))];
    }
}
