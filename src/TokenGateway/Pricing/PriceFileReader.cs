using System.Text.Json;

namespace TokenGateway.Pricing;

/// <summary>
/// Reads the pricing file's fields into <see cref="ModelPrice"/>s. Every problem is a <see cref="FormatException"/>
/// naming the entry and the field, never another exception: a reload that fails keeps the old table.
/// </summary>
internal static class PriceFileReader
{
    private static readonly string[] Dimensions = ["input", "cached_input", "cache_write", "audio_input", "cached_audio_input", "image_input", "cached_image_input", "output", "audio_output", "image_output"];
    // NOTE: cached audio/image input and image output are accepted (the dataset has them) but not billed apart:
    // OpenAI's Chat and Responses usage does not report those counts separately.
    private static readonly HashSet<string> EntryFields = [.. Dimensions, "kind", "max_output_tokens", "long_context", "service_tiers", "tool_calls", "aliases", "dated_snapshots"];

    /// <summary>What the file's top level says for every entry.</summary>
    internal sealed record Defaults(IReadOnlyDictionary<ServiceTier, decimal> TierMultipliers, IReadOnlyList<ServiceTier> AutoTiers, decimal WebSearchPicos, decimal FileSearchPicos);

    public static Defaults ReadDefaults(JsonElement root)
    {
        // NOTE: without a "service_tiers" section, flex is half price (OpenAI's published ratio) and priority
        // is assumed at twice the standard price, the dearest ratio OpenAI publishes, so holds stay upper bounds.
        var multipliers = new Dictionary<ServiceTier, decimal> { [ServiceTier.Default] = 1m, [ServiceTier.Flex] = 0.5m, [ServiceTier.Priority] = 2m };
        if (Optional(root, "service_tiers", "the file") is { } tiers)
        {
            foreach (var tier in Object(tiers, "the file", "service_tiers").EnumerateObject())
            {
                var which = TierNamed(tier.Name, "the file");
                multipliers[which] = Number(tier.Value, "the file", "service_tiers." + tier.Name);
            }
        }
        List<ServiceTier> autoTiers = [ServiceTier.Default];
        if (Optional(root, "auto_tiers", "the file") is { } auto)
        {
            if (auto.ValueKind != JsonValueKind.Array || auto.GetArrayLength() == 0) throw Bad("the file", "auto_tiers", "must be a non-empty array of tier names");
            autoTiers = [.. auto.EnumerateArray().Select(t => TierNamed(t.ValueKind == JsonValueKind.String ? t.GetString()! : "", "the file"))];
        }
        var (web, file) = Optional(root, "tool_calls", "the file") is { } tools ? ToolFees(tools, "the file", 0, 0) : (0m, 0m);
        return new Defaults(multipliers, autoTiers, web, file);
    }

    public static (ModelPrice Price, IReadOnlyList<string> Aliases, bool DatedSnapshots) ReadEntry(string name, JsonElement e, Defaults defaults)
    {
        var where = $"model \"{name}\"";
        Object(e, where, null);
        foreach (var field in e.EnumerateObject())
        {
            if (!EntryFields.Contains(field.Name) && !field.Name.StartsWith('_'))
                throw Bad(where, field.Name, "is not a pricing field (see docs/pricing.md)");
        }
        var kind = Optional(e, "kind", where) is { } k ? (k.ValueKind == JsonValueKind.String ? k.GetString() : null) : "text";
        if (kind is not ("text" or "embedding")) throw Bad(where, "kind", "must be \"text\" or \"embedding\"");
        var isEmbedding = kind == "embedding";
        var standard = Prices(e, where, "", requireOutput: !isEmbedding, fallback: null);
        TokenPrices? longContext = null;
        long threshold = 0;
        if (Optional(e, "long_context", where) is { } lc)
        {
            Object(lc, where, "long_context");
            threshold = Integer(lc, where, "long_context.threshold_tokens");
            longContext = Prices(lc, where, "long_context.", requireOutput: false, fallback: standard);
        }
        var published = new Dictionary<ServiceTier, TokenPrices>();
        if (Optional(e, "service_tiers", where) is { } tiers)
        {
            foreach (var tier in Object(tiers, where, "service_tiers").EnumerateObject())
            {
                Object(tier.Value, where, "service_tiers." + tier.Name);
                published[TierNamed(tier.Name, where)] = Prices(tier.Value, where, $"service_tiers.{tier.Name}.", requireOutput: !isEmbedding, fallback: null);
            }
        }
        var (web, file) = Optional(e, "tool_calls", where) is { } tools ? ToolFees(tools, where, defaults.WebSearchPicos, defaults.FileSearchPicos) : (defaults.WebSearchPicos, defaults.FileSearchPicos);
        int? maxOutput = Optional(e, "max_output_tokens", where) is not null ? checked((int)Integer(e, where, "max_output_tokens")) : null;
        var aliases = new List<string>();
        if (Optional(e, "aliases", where) is { } list)
        {
            if (list.ValueKind != JsonValueKind.Array) throw Bad(where, "aliases", "must be an array of model names");
            foreach (var alias in list.EnumerateArray())
            {
                if (alias.ValueKind != JsonValueKind.String || alias.GetString() is not { Length: > 0 } a || a.EndsWith('*'))
                    throw Bad(where, "aliases", "must be an array of exact model names");
                aliases.Add(a);
            }
        }
        var dated = Optional(e, "dated_snapshots", where) is { } d && (d.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? d.GetBoolean() : throw Bad(where, "dated_snapshots", "must be true or false"));
        var price = new ModelPrice
        {
            Entry = name,
            IsEmbedding = isEmbedding,
            Standard = standard,
            LongContext = longContext,
            LongContextThreshold = threshold,
            PublishedTiers = published,
            TierMultipliers = defaults.TierMultipliers,
            AutoTiers = defaults.AutoTiers,
            WebSearchPicosPerCall = web,
            FileSearchPicosPerCall = file,
            MaxOutputTokens = maxOutput,
        };
        return (price, aliases, dated);
    }

    /// <summary>A price set. Dimensions not given fall back to <paramref name="fallback"/> (long context), else to the kind they are.</summary>
    private static TokenPrices Prices(JsonElement e, string where, string path, bool requireOutput, TokenPrices? fallback)
    {
        decimal? Dim(string field) => Optional(e, field, where) is { } v ? Picos(v, where, path + field) : null;
        var input = Dim("input") ?? fallback?.Input ?? throw Bad(where, path + "input", "is required");
        var output = Dim("output") ?? fallback?.Output;
        if (output is null && requireOutput) throw Bad(where, path + "output", "is required for a text model (a model without output is \"kind\": \"embedding\")");
        var resolvedOutput = output ?? 0;
        return new TokenPrices(
            Input: input,
            CachedInput: Dim("cached_input") ?? fallback?.CachedInput ?? input,
            CacheWrite: Dim("cache_write") ?? fallback?.CacheWrite ?? input,
            AudioInput: Dim("audio_input") ?? fallback?.AudioInput ?? input,
            ImageInput: Dim("image_input") ?? fallback?.ImageInput ?? input,
            Output: resolvedOutput,
            AudioOutput: Dim("audio_output") ?? fallback?.AudioOutput ?? resolvedOutput);
    }

    private static (decimal Web, decimal File) ToolFees(JsonElement tools, string where, decimal web, decimal file)
    {
        foreach (var tool in Object(tools, where, "tool_calls").EnumerateObject())
        {
            // USD per 1,000 calls = 10^9 pico-USD per call per USD.
            var picos = Number(tool.Value, where, "tool_calls." + tool.Name) * 1_000_000_000m;
            switch (tool.Name)
            {
                case "web_search_call": web = picos; break;
                case "file_search_call": file = picos; break;
                default: throw Bad(where, "tool_calls." + tool.Name, "is not a priced tool (web_search_call, file_search_call)");
            }
        }
        return (web, file);
    }

    private static ServiceTier TierNamed(string name, string where) => name switch
    {
        "flex" => ServiceTier.Flex,
        "priority" => ServiceTier.Priority,
        "default" when where == "the file" => ServiceTier.Default,
        _ => throw Bad(where, "service_tiers", $"names an unknown tier (flex, priority{(where == "the file" ? ", default" : "")})"),
    };

    private static JsonElement? Optional(JsonElement e, string field, string where) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static JsonElement Object(JsonElement e, string where, string? field) =>
        e.ValueKind == JsonValueKind.Object ? e : throw Bad(where, field, "must be an object");

    /// <summary>USD per 1M tokens with at most 6 decimals → pico-USD per token.</summary>
    private static decimal Picos(JsonElement v, string where, string field) =>
        Money.PicosPerToken(Number(v, where, field)) is long picos ? picos : throw Bad(where, field, "must be a USD amount per 1M tokens with at most 6 decimals");

    private static decimal Number(JsonElement v, string where, string field) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d >= 0 ? d : throw Bad(where, field, "must be a non-negative number");

    private static long Integer(JsonElement e, string where, string path)
    {
        var field = path[(path.LastIndexOf('.') + 1)..];
        return e.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n > 0
            ? n : throw Bad(where, path, "must be a positive integer");
    }

    private static FormatException Bad(string where, string? field, string problem) =>
        new(field is null ? $"{where} {problem}." : $"{where}: \"{field}\" {problem}.");
}
