using System.Text.Json;

namespace TokenGateway.Pricing;

/// <summary>An immutable pricing file: exact names win, then the longest <c>prefix*</c>, then <c>"*"</c>.</summary>
internal sealed class PricingTable
{
    private readonly Dictionary<string, ModelPrice> _exact;
    private readonly (string Prefix, ModelPrice Price)[] _prefixes;

    private PricingTable(Dictionary<string, ModelPrice> exact, (string, ModelPrice)[] prefixes)
    {
        _exact = exact;
        _prefixes = prefixes;
    }

    public int Count => _exact.Count + _prefixes.Length;

    public ModelPrice? Find(string model)
    {
        if (_exact.TryGetValue(model, out var price)) return price;
        foreach (var (prefix, p) in _prefixes)
            if (model.StartsWith(prefix, StringComparison.Ordinal)) return p;
        return null;
    }

    /// <summary>Parses a pricing file; throws <see cref="FormatException"/> naming the bad entry.</summary>
    public static PricingTable Parse(ReadOnlySpan<byte> json)
    {
        using var doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        if (!doc.RootElement.TryGetProperty("models", out var models) || models.ValueKind != JsonValueKind.Object)
            throw new FormatException("the pricing file needs an object \"models\".");
        var exact = new Dictionary<string, ModelPrice>(StringComparer.Ordinal);
        var prefixes = new List<(string, ModelPrice)>();
        foreach (var entry in models.EnumerateObject())
        {
            var price = ParseEntry(entry.Name, entry.Value);
            if (entry.Name.EndsWith('*')) prefixes.Add((entry.Name[..^1], price));
            else exact[entry.Name] = price;
        }
        // NOTE: longest prefix first, so "gpt-4o-mini*" wins over "gpt-4o*"; "*" (empty prefix) comes last.
        return new PricingTable(exact, [.. prefixes.OrderByDescending(p => p.Item1.Length)]);
    }

    private static ModelPrice ParseEntry(string name, JsonElement e)
    {
        long Picos(string field, long? fallback)
        {
            if (!e.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null)
                return fallback ?? throw new FormatException($"model \"{name}\" has no \"{field}\" price.");
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetDecimal(out var usd) || usd < 0 || Money.PicosPerToken(usd) is not long picos)
                throw new FormatException($"model \"{name}\": \"{field}\" must be a non-negative USD amount per 1M tokens with at most 6 decimals.");
            return picos;
        }
        if (e.ValueKind != JsonValueKind.Object) throw new FormatException($"model \"{name}\" must be an object.");
        var input = Picos("input", null);
        int? maxOutput = null;
        if (e.TryGetProperty("max_output_tokens", out var m))
        {
            if (!m.TryGetInt32(out var max) || max <= 0) throw new FormatException($"model \"{name}\": \"max_output_tokens\" must be a positive integer.");
            maxOutput = max;
        }
        return new ModelPrice(name, input, Picos("cached_input", input), Picos("output", 0), maxOutput);
    }
}
