using TokenGateway.Metering;

namespace TokenGateway.Pricing;

/// <summary>
/// One entry of the pricing file: a price set per service tier, a long-context price set, per-call tool
/// fees. <see cref="Cost"/> turns a reported usage into the exact charge, every dimension at its own
/// price, rounded up once.
/// </summary>
internal sealed class ModelPrice
{
    public required string Entry { get; init; }

    /// <summary>Embedding models have no output price and are metered on <c>/v1/embeddings</c> only.</summary>
    public bool IsEmbedding { get; init; }

    public required TokenPrices Standard { get; init; }

    /// <summary>Prices that replace <see cref="Standard"/> for the whole request when its prompt has more than <see cref="LongContextThreshold"/> tokens.</summary>
    public TokenPrices? LongContext { get; init; }
    public long LongContextThreshold { get; init; }

    /// <summary>Published flex/priority prices; a tier without them is <see cref="Standard"/> × its multiplier.</summary>
    public IReadOnlyDictionary<ServiceTier, TokenPrices> PublishedTiers { get; init; } = new Dictionary<ServiceTier, TokenPrices>();
    public required IReadOnlyDictionary<ServiceTier, decimal> TierMultipliers { get; init; }

    /// <summary>Tiers a request that asks for <c>auto</c> (or nothing) may be served on: its hold assumes the dearest.</summary>
    public required IReadOnlyList<ServiceTier> AutoTiers { get; init; }

    public decimal WebSearchPicosPerCall { get; init; }
    public decimal FileSearchPicosPerCall { get; init; }
    public int? MaxOutputTokens { get; init; }

    public TokenPrices PricesFor(ServiceTier tier, long promptTokens)
    {
        if (LongContext is { } longContext && promptTokens > LongContextThreshold)
        {
            // NOTE: published tier prices are for standard context; above the threshold the tier's multiplier applies.
            return tier == ServiceTier.Default ? longContext : longContext.Times(TierMultipliers[tier]);
        }
        if (tier == ServiceTier.Default) return Standard;
        return PublishedTiers.TryGetValue(tier, out var published) ? published : Standard.Times(TierMultipliers[tier]);
    }

    /// <summary>
    /// The charge for a reported usage at the tier the response reports. Input is split into cached, cache
    /// writes, audio, image and the rest (text); output into audio and the rest (text, reasoning included).
    /// </summary>
    public Charge Cost(TokenUsage usage)
    {
        var prices = PricesFor(ServiceTiers.Parse(usage.ServiceTier), usage.Input);
        var input = Math.Max(0, usage.Input);
        long Take(long tokens)
        {
            var taken = Math.Clamp(tokens, 0, input);
            input -= taken;
            return taken;
        }
        var cached = Take(usage.Cached);
        var cacheWrite = Take(usage.CacheWrite);
        var audioInput = Take(usage.AudioInput);
        var imageInput = Take(usage.ImageInput);
        var output = Math.Max(0, usage.Output);
        var audioOutput = Math.Clamp(usage.AudioOutput, 0, output);
        return Charge.Of(
        [
            new LineItem("input", input, prices.Input),
            new LineItem("cached_input", cached, prices.CachedInput),
            new LineItem("cache_write", cacheWrite, prices.CacheWrite),
            new LineItem("audio_input", audioInput, prices.AudioInput),
            new LineItem("image_input", imageInput, prices.ImageInput),
            new LineItem("output", output - audioOutput, prices.Output),
            new LineItem("audio_output", audioOutput, prices.AudioOutput),
            new LineItem("web_search_call", Math.Max(0, usage.WebSearchCalls), WebSearchPicosPerCall),
            new LineItem("file_search_call", Math.Max(0, usage.FileSearchCalls), FileSearchPicosPerCall),
        ]);
    }

    /// <summary>The tier a hold must assume: the one asked for, or the dearest <c>auto</c> may land on.</summary>
    public ServiceTier WorstTier(string? requested) => requested switch
    {
        "flex" => ServiceTier.Flex,
        "priority" => ServiceTier.Priority,
        "default" => ServiceTier.Default,
        _ => _dearestAutoTier ??= AutoTiers.MaxBy(t => PricesFor(t, 0) is var p ? p.DearestOutput + p.DearestInput : 0),
    };

    // NOTE: fixed by the file, so found once per entry rather than on every request (a multiplied tier allocates its prices).
    private ServiceTier? _dearestAutoTier;

    /// <summary>
    /// The fixed part of a hold (every input token at the dearest input price of the tier and context
    /// size, plus the dearest fee for each tool call the request allows) and the price per output token.
    /// </summary>
    public (long FixedMicros, long OutputPicosPerToken) HoldPrices(ServiceTier tier, long inputTokens, long toolCalls)
    {
        var prices = PricesFor(tier, inputTokens);
        var fixedPicos = inputTokens * prices.DearestInput + toolCalls * Math.Max(WebSearchPicosPerCall, FileSearchPicosPerCall);
        return (Money.CeilToMicros(fixedPicos), (long)decimal.Ceiling(prices.DearestOutput));
    }
}
