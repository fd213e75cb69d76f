using System.Globalization;
using System.Text;

namespace TokenGateway.Telemetry;

/// <summary>
/// Writes metric families in the Prometheus text exposition format 0.0.4.
/// <para>
/// Naming rule, from an instrument (name, unit, kind) to a Prometheus name, as in OpenTelemetry's
/// Prometheus exporters:
/// 1. every character outside <c>[a-zA-Z0-9_:]</c> (dots, dashes) becomes <c>_</c>, and a leading digit gets a <c>_</c> before it;
/// 2. the unit is appended as a word unless the name already ends with it: <c>s</c> → <c>_seconds</c>,
///    <c>ms</c> → <c>_milliseconds</c>, <c>By</c> → <c>_bytes</c>, <c>USD</c> → <c>_usd</c>, another unit
///    → itself in lower case; annotations in braces (<c>{token}</c>) and <c>1</c> add nothing;
/// 3. counters (monotonic sums) end with <c>_total</c>.
/// So <c>tokengateway.cost</c> (USD counter) is <c>tokengateway_cost_usd_total</c>, <c>tokengateway.reserve.duration</c>
/// (s histogram) is <c>tokengateway_reserve_duration_seconds</c>, <c>gen_ai.client.token.usage</c> ({token}
/// histogram) is <c>gen_ai_client_token_usage</c>. Tag names follow rule 1 (<c>gen_ai.token.type</c> → <c>gen_ai_token_type</c>).
/// </para>
/// </summary>
internal static class PrometheusTextWriter
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string MetricName(string instrumentName, string? unit, bool counter)
    {
        var name = Sanitize(instrumentName, allowColon: true);
        if (UnitWord(unit) is { Length: > 0 } word && !name.EndsWith("_" + word, StringComparison.Ordinal)) name += "_" + word;
        if (counter && !name.EndsWith("_total", StringComparison.Ordinal)) name += "_total";
        return name;
    }

    public static string LabelName(string tagName) => Sanitize(tagName, allowColon: false);

    private static string? UnitWord(string? unit)
    {
        if (string.IsNullOrEmpty(unit)) return null;
        // NOTE: UCUM annotations ({token}, {request}) name what is counted; the name already says it.
        var plain = System.Text.RegularExpressions.Regex.Replace(unit, @"\{[^}]*\}", "");
        return plain switch
        {
            "" or "1" => null,
            "s" => "seconds",
            "ms" => "milliseconds",
            "us" => "microseconds",
            "ns" => "nanoseconds",
            "By" => "bytes",
            "%" => "percent",
            _ => Sanitize(plain.ToLowerInvariant(), allowColon: false),
        };
    }

    private static string Sanitize(string name, bool allowColon)
    {
        var sb = new StringBuilder(name.Length + 1);
        if (name.Length == 0 || char.IsAsciiDigit(name[0])) sb.Append('_');
        foreach (var c in name) sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':') ? c : '_');
        return sb.ToString();
    }

    public static void Write(StringBuilder output, IEnumerable<MetricFamily> families)
    {
        foreach (var family in families)
        {
            var series = family.Series.OrderBy(s => s.Key.Tags, TagsOrder.Instance).ToList();
            if (series.Count == 0) continue;
            output.Append("# HELP ").Append(family.Name).Append(' ');
            AppendEscaped(output, family.Help, quote: false);
            output.Append('\n');
            output.Append("# TYPE ").Append(family.Name).Append(' ').Append(family.Type switch
            {
                MetricType.Counter => "counter",
                MetricType.Histogram => "histogram",
                _ => "gauge",
            }).Append('\n');
            foreach (var (tags, s) in series)
            {
                if (family.Type != MetricType.Histogram)
                {
                    Sample(output, family.Name, tags, null, s.Value);
                    continue;
                }
                var counts = s.BucketCounts();
                long cumulative = 0;
                for (var i = 0; i < counts.Length; i++)
                {
                    cumulative += counts[i];
                    Sample(output, family.Name + "_bucket", tags, i < family.Bounds.Length ? Number(family.Bounds[i]) : "+Inf", cumulative);
                }
                Sample(output, family.Name + "_sum", tags, null, s.Sum);
                // NOTE: the count is the +Inf bucket, so the two always agree even while measurements arrive.
                Sample(output, family.Name + "_count", tags, null, cumulative);
            }
        }
    }

    private static void Sample(StringBuilder output, string name, TagSet tags, string? le, double value)
    {
        output.Append(name);
        if (tags.Tags.Length > 0 || le is not null)
        {
            output.Append('{');
            var first = true;
            foreach (var (key, v) in tags.Tags)
            {
                if (!first) output.Append(',');
                first = false;
                output.Append(LabelName(key)).Append("=\"");
                AppendEscaped(output, v, quote: true);
                output.Append('"');
            }
            if (le is not null) output.Append(first ? "" : ",").Append("le=\"").Append(le).Append('"');
            output.Append('}');
        }
        output.Append(' ').Append(Number(value)).Append('\n');
    }

    public static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>HELP text escapes backslash and newline; label values also the double quote.</summary>
    private static void AppendEscaped(StringBuilder output, string text, bool quote)
    {
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\': output.Append(@"\\"); break;
                case '\n': output.Append(@"\n"); break;
                case '"' when quote: output.Append("\\\""); break;
                default: output.Append(c); break;
            }
        }
    }

    /// <summary>Series in a stable order (by label values), so consecutive scrapes are easy to compare.</summary>
    private sealed class TagsOrder : IComparer<KeyValuePair<string, string>[]>
    {
        public static readonly TagsOrder Instance = new();

        public int Compare(KeyValuePair<string, string>[]? x, KeyValuePair<string, string>[]? y)
        {
            x ??= [];
            y ??= [];
            for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
            {
                var c = string.CompareOrdinal(x[i].Key, y[i].Key);
                if (c == 0) c = string.CompareOrdinal(x[i].Value, y[i].Value);
                if (c != 0) return c;
            }
            return x.Length.CompareTo(y.Length);
        }
    }
}
