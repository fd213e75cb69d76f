namespace TokenGateway.Pricing;

/// <summary>
/// Money is integer micro-USD. Prices are USD per million tokens, i.e. micro-USD per token; they are
/// held as integer pico-USD per token so that a request's cost is computed exactly and rounded once.
/// </summary>
internal static class Money
{
    public const long MicrosPerUsd = 1_000_000;
    public const long PicosPerMicro = 1_000_000;

    /// <summary>USD to micro-USD; null when the amount has a fraction of a micro-USD or is out of range.</summary>
    public static long? ToMicros(decimal usd)
    {
        var micros = usd * MicrosPerUsd;
        if (micros != decimal.Truncate(micros) || Math.Abs(micros) > (1L << 53)) return null;
        return (long)micros;
    }

    public static decimal ToUsd(long micros) => micros / (decimal)MicrosPerUsd;

    /// <summary>USD per 1M tokens to pico-USD per token; null when finer than 1e-6 USD per 1M tokens.</summary>
    public static long? PicosPerToken(decimal usdPerMillionTokens) => ToMicros(usdPerMillionTokens);

    /// <summary>Pico-USD to micro-USD, rounded up: the one rounding of a request.</summary>
    public static long CeilToMicros(long picos) => picos <= 0 ? 0 : (picos + PicosPerMicro - 1) / PicosPerMicro;

    /// <summary>The same for an exact decimal amount (a tier multiplier can make it fractional).</summary>
    public static long CeilToMicros(decimal picos) => picos <= 0 ? 0 : (long)decimal.Ceiling(picos / PicosPerMicro);
}
