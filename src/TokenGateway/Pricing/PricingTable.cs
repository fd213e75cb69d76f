using System.Text.Json;
using System.Text.RegularExpressions;

namespace TokenGateway.Pricing;

/// <summary>The model a request names, matched to a price, and the label it is reported under.</summary>
/// <param name="Label">A name from the pricing file (the exact name or alias, else the entry): never the raw client string.</param>
internal readonly record struct PriceMatch(ModelPrice Price, string Label);

/// <summary>
/// An immutable pricing file (schema: docs/pricing.md). Matching: an exact name or alias, then a dated
/// snapshot (<c>name-YYYY-MM-DD</c>) of an entry that allows them, then the longest <c>prefix*</c>
/// (operators' own files only), then <c>"*"</c>.
/// </summary>
internal sealed partial class PricingTable
{
    private readonly Dictionary<string, (ModelPrice Price, bool DatedSnapshots)> _exact;
    private readonly (string Prefix, ModelPrice Price)[] _prefixes;

    private PricingTable(Dictionary<string, (ModelPrice, bool)> exact, (string, ModelPrice)[] prefixes, int entries)
    {
        _exact = exact;
        _prefixes = prefixes;
        Count = entries;
    }

    /// <summary>Entries in the file (aliases not counted).</summary>
    public int Count { get; }

    [GeneratedRegex(@"^(?<base>.+)-\d{4}-\d{2}-\d{2}\z")]
    private static partial Regex DatedSnapshot();

    public PriceMatch? Find(string model)
    {
        if (_exact.TryGetValue(model, out var exact)) return new PriceMatch(exact.Price, model);
        if (DatedSnapshot().Match(model) is { Success: true } dated && _exact.TryGetValue(dated.Groups["base"].Value, out var snapshotOf)
            && snapshotOf.DatedSnapshots) return new PriceMatch(snapshotOf.Price, snapshotOf.Price.Entry);
        foreach (var (prefix, price) in _prefixes)
            if (model.StartsWith(prefix, StringComparison.Ordinal)) return new PriceMatch(price, price.Entry);
        return null;
    }

    /// <summary>Parses and validates a pricing file; throws <see cref="FormatException"/> naming the bad entry and field.</summary>
    public static PricingTable Parse(ReadOnlySpan<byte> json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new FormatException($"the pricing file is not valid JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("models", out var models) || models.ValueKind != JsonValueKind.Object)
                throw new FormatException("the pricing file needs an object \"models\".");
            var defaults = PriceFileReader.ReadDefaults(root);
            var exact = new Dictionary<string, (ModelPrice, bool)>(StringComparer.Ordinal);
            var prefixes = new List<(string, ModelPrice)>();
            var entries = 0;
            foreach (var entry in models.EnumerateObject())
            {
                entries++;
                var (price, aliases, datedSnapshots) = PriceFileReader.ReadEntry(entry.Name, entry.Value, defaults);
                if (entry.Name.EndsWith('*'))
                {
                    prefixes.Add((entry.Name[..^1], price));
                    continue;
                }
                foreach (var name in aliases.Prepend(entry.Name))
                {
                    if (!exact.TryAdd(name, (price, datedSnapshots))) throw new FormatException($"model \"{name}\" is listed twice.");
                }
            }
            // NOTE: longest prefix first, so "gpt-4o-mini*" wins over "gpt-4o*"; "*" (empty prefix) comes last.
            return new PricingTable(exact, [.. prefixes.OrderByDescending(p => p.Item1.Length)], entries);
        }
    }
}
