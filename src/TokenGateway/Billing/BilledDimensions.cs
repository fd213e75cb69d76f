using System.Globalization;
using System.Text;
using StackExchange.Redis;
using TokenGateway.Metering;
using TokenGateway.Pricing;

namespace TokenGateway.Billing;

/// <summary>
/// What a debit records of its usage: ledger fields (every billed dimension, the tier, the line items)
/// and the usage-report counters the settle script increments. Zero counts of the rarer dimensions are
/// left out, so a plain chat request writes no more than it did before they existed.
/// </summary>
internal static class BilledDimensions
{
    /// <summary>Usage-report metrics beyond requests and cost, in the order the report shows them.</summary>
    public static readonly string[] Metrics = ["input", "cached", "output", "cache_write", "audio_input", "image_input", "reasoning", "audio_output", "web_search_calls", "file_search_calls"];

    /// <summary>The name each metric has in the usage report and the ledger.</summary>
    public static readonly string[] ReportFields = ["input_tokens", "cached_tokens", "output_tokens", "cache_write_tokens", "audio_input_tokens", "image_input_tokens", "reasoning_tokens", "audio_output_tokens", "web_search_calls", "file_search_calls"];

    public static List<RedisValue> LedgerFields(TokenUsage u, Charge charge)
    {
        var values = Values(u);
        var fields = new List<RedisValue>();
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] == 0 && i >= 3) continue;
            fields.Add(ReportFields[i]);
            fields.Add(values[i]);
        }
        fields.Add("service_tier");
        fields.Add(ServiceTiers.Parse(u.ServiceTier).Name());
        fields.Add("line_items");
        fields.Add(EncodeLines(charge.Lines));
        return fields;
    }

    public static IEnumerable<RedisValue> Counters(TokenUsage u)
    {
        var values = Values(u);
        for (var i = 0; i < values.Length; i++)
        {
            // NOTE: a zero is left out (the reports read an absent cell as 0), input and output tokens excepted: each cell
            // is an HINCRBY in each of three usage hashes on every settle (cached tokens 0 were three of them).
            if (values[i] == 0 && Metrics[i] is not ("input" or "output")) continue;
            yield return Metrics[i];
            yield return values[i];
        }
    }

    /// <summary>
    /// <c>li:&lt;line item&gt;</c> → its pico-USD (rounded up to a whole pico), for the Costs API's <c>group_by=line_item</c>:
    /// the day's usage hash only. The request's cost is still its own counter, rounded once.
    /// </summary>
    public static IEnumerable<RedisValue> LineItemCounters(Charge charge)
    {
        foreach (var line in charge.Lines)
        {
            yield return "li:" + line.Name;
            yield return (long)Math.Ceiling(line.Picos);
        }
    }

    private static long[] Values(TokenUsage u) =>
        [u.Input, u.Cached, u.Output, u.CacheWrite, u.AudioInput, u.ImageInput, u.Reasoning, u.AudioOutput, u.WebSearchCalls, u.FileSearchCalls];

    /// <summary><c>name:quantity:picos</c> per line, <c>;</c>-separated: compact in the stream, exact (picos may have a fraction after a tier multiplier).</summary>
    public static string EncodeLines(IEnumerable<LineItem> lines)
    {
        var text = new StringBuilder();
        foreach (var line in lines)
        {
            if (text.Length > 0) text.Append(';');
            text.Append(CultureInfo.InvariantCulture, $"{line.Name}:{line.Quantity}:{line.Picos}");
        }
        return text.ToString();
    }

    /// <summary>The line items of a ledger entry, as OpenAI's Costs API shows them: line item, quantity, amount.</summary>
    public static IEnumerable<(string LineItem, long Quantity, decimal AmountUsd)> DecodeLines(string encoded)
    {
        foreach (var line in encoded.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(':');
            if (parts.Length != 3 || !long.TryParse(parts[1], CultureInfo.InvariantCulture, out var quantity)
                || !decimal.TryParse(parts[2], NumberStyles.Number, CultureInfo.InvariantCulture, out var picos)) continue;
            yield return (parts[0], quantity, picos / (Money.PicosPerMicro * Money.MicrosPerUsd));
        }
    }
}
