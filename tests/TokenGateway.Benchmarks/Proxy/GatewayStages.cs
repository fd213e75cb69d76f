using System.Globalization;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// Where a gateway's added latency goes, from its own histograms on <c>/metrics</c> (sum and count of each, summed over
/// their label sets), read before and after a run: the mean reserve and settle (each one Redis round trip with its
/// script), the gateway's overhead (a request's time in the gateway less the upstream call) and, for streams, the time
/// to the first bytes written to the client. Two scrapes a run, outside the timed load.
/// </summary>
internal sealed record GatewayStages(IReadOnlyDictionary<string, (double Sum, long Count)> Histograms)
{
    public static readonly string[] Names =
        ["tokengateway_reserve_duration_seconds", "tokengateway_settle_duration_seconds", "tokengateway_overhead_seconds", "tokengateway_time_to_first_token_seconds"];

    public static async Task<GatewayStages> ReadAsync(HttpClient client, string baseUrl, CancellationToken ct)
    {
        var text = await client.GetStringAsync(baseUrl.TrimEnd('/') + "/metrics", ct);
        var histograms = Names.ToDictionary(n => n, _ => (Sum: 0.0, Count: 0L));
        foreach (var line in text.Split('\n'))
        {
            foreach (var name in Names)
            {
                if (!line.StartsWith(name, StringComparison.Ordinal)) continue;
                var rest = line[name.Length..];
                var value = line[(line.LastIndexOf(' ') + 1)..];
                var (sum, count) = histograms[name];
                if (rest.StartsWith("_sum", StringComparison.Ordinal)) sum += double.Parse(value, CultureInfo.InvariantCulture);
                else if (rest.StartsWith("_count", StringComparison.Ordinal)) count += long.Parse(value, CultureInfo.InvariantCulture);
                histograms[name] = (sum, count);
            }
        }
        return new GatewayStages(histograms);
    }

    public GatewayStages Minus(GatewayStages before) => new(Histograms.ToDictionary(h => h.Key,
        h => (h.Value.Sum - before.Histograms[h.Key].Sum, h.Value.Count - before.Histograms[h.Key].Count)));

    /// <summary>The mean in ms of the histogram <paramref name="name"/> over the run; null when it recorded nothing.</summary>
    public double? MeanMs(string name) => Histograms[name] is var (sum, count) && count > 0 ? sum / count * 1000 : null;
}
