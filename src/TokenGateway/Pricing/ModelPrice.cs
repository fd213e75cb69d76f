namespace TokenGateway.Pricing;

/// <summary>A model's prices in pico-USD per token (= USD per 1M tokens × 10^6).</summary>
internal sealed record ModelPrice(string Entry, long InputPicos, long CachedInputPicos, long OutputPicos, int? MaxOutputTokens)
{
    /// <summary>PRODUCT.md: ceil((prompt − cached) × input + cached × cached_input + completion × output).</summary>
    public long CostMicros(long promptTokens, long cachedTokens, long completionTokens)
    {
        var cached = Math.Clamp(cachedTokens, 0, promptTokens);
        return Money.CeilToMicros(checked((promptTokens - cached) * InputPicos + cached * CachedInputPicos + completionTokens * OutputPicos));
    }

    /// <summary>Worst-case input cost: every token at the uncached price.</summary>
    public long InputCostMicros(long inputTokens) => Money.CeilToMicros(checked(inputTokens * InputPicos));
}
