namespace TokenGateway.Pricing;

/// <summary>
/// One price set in pico-USD per token (USD per 1M tokens × 10^6). Decimal, so that a tier multiplier
/// (flex × 0.5) stays exact: the only rounding is the request's, in <see cref="Money.CeilToMicros(decimal)"/>.
/// A dimension the file does not price is resolved at load to the one it is a kind of (cached input,
/// cache write, audio and image input → input; audio output → output), never to zero.
/// </summary>
internal sealed record TokenPrices(
    decimal Input, decimal CachedInput, decimal CacheWrite, decimal AudioInput, decimal ImageInput, decimal Output, decimal AudioOutput)
{
    public TokenPrices Times(decimal factor) =>
        new(Input * factor, CachedInput * factor, CacheWrite * factor, AudioInput * factor, ImageInput * factor, Output * factor, AudioOutput * factor);

    /// <summary>The dearest price an input token can have: what a hold must assume for tokens counted locally.</summary>
    public decimal DearestInput => Math.Max(Math.Max(Input, CacheWrite), Math.Max(AudioInput, ImageInput));

    /// <summary>The dearest price an output token can have.</summary>
    public decimal DearestOutput => Math.Max(Output, AudioOutput);
}
