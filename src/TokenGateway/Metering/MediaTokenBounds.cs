namespace TokenGateway.Metering;

/// <summary>
/// The most input tokens an image, an audio clip or a file can be billed for, as <see cref="InputTokenBound"/>
/// assumes them. Unlike text these are not proven from the bytes (a PNG of a few bytes can be billed as a large
/// image): they are OpenAI's published maxima, taken generously, and an upstream that ever bills more is counted
/// as a hold overrun (<c>tokengateway.hold.overruns</c>) and logged as an error.
/// </summary>
internal static class MediaTokenBounds
{
    /// <summary>
    /// Tile-based families (gpt-4o, gpt-4.1, gpt-4.5, gpt-4-turbo, o1, o3, gpt-5, computer-use): high detail is
    /// 85 + 170 per 512 px tile, at most 768 × 2048 px = 8 tiles → 1,445 tokens (o-series 75 + 150 × 8 = 1,275,
    /// gpt-5 70 + 140 × 8 = 1,190). Taken as 1,536 so that a patch-based model at a multiplier of 1 (32 px patches,
    /// capped at 1,536) is covered too. Low detail is the base alone: 85 at most.
    /// </summary>
    public const int TileHigh = 1536, TileLow = 85;

    /// <summary>gpt-4o-mini bills images at 33 × the tokens (its price per token is that much lower): 2,833 + 5,667 × 8 tiles.</summary>
    public const int Gpt4oMiniHigh = 2833 + 5667 * 8, Gpt4oMiniLow = 2833;

    /// <summary>Patch-based "-mini" models: 1,536 patches × 1.62 (gpt-4.1-mini, gpt-5-mini) or × 1.72 (o4-mini): 2,642. Detail does not lower it.</summary>
    public const int MiniPatches = 2642;

    /// <summary>Patch-based "-nano" models: 1,536 patches × 2.46 = 3,779; also taken for a model of no known family.</summary>
    public const int NanoPatches = 3779;

    private static readonly string[] TileFamilies = ["gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-4-", "o1", "o3", "gpt-5", "computer-use"];

    /// <summary>
    /// Audio input is billed at 1 token per 100 ms of sound. The densest format OpenAI decodes is MP3 at 8 kbit/s:
    /// 1,000 bytes (1,333 base64 characters) a second, 10 tokens: one per 133 characters. A clip is bounded by one
    /// token per 64 base64 characters (twice that rate, so down to 4 kbit/s) plus <see cref="AudioPerClip"/>.
    /// </summary>
    public const int AudioBase64CharsPerToken = 64, AudioPerClip = 32;

    /// <summary>
    /// A file (a PDF) is billed as the text and an image of each page. OpenAI takes at most 100 pages a request; a
    /// file is bounded by 100 pages × (a high-detail image + 2,048 text tokens), whatever its size, inline or by id.
    /// </summary>
    public const int FilePages = 100, FilePageTextTokens = 2048;

    /// <summary>The most tokens one image can be billed for on <paramref name="model"/>, at high (or auto) and at low detail.</summary>
    public static (int High, int Low) Image(string model)
    {
        if (model.StartsWith("gpt-4o-mini", StringComparison.Ordinal)) return (Gpt4oMiniHigh, Gpt4oMiniLow);
        if (model.Contains("-nano", StringComparison.Ordinal)) return (NanoPatches, NanoPatches);
        if (model.Contains("-mini", StringComparison.Ordinal)) return (MiniPatches, MiniPatches);
        foreach (var family in TileFamilies)
        {
            if (model.StartsWith(family, StringComparison.Ordinal)) return (TileHigh, TileLow);
        }
        return (NanoPatches, NanoPatches);
    }

    /// <summary>An audio clip whose base64 data has <paramref name="base64Bytes"/> bytes (as sent, escapes included).</summary>
    public static long Audio(long base64Bytes) => (base64Bytes + AudioBase64CharsPerToken - 1) / AudioBase64CharsPerToken + AudioPerClip;

    /// <summary>One file input part on <paramref name="model"/>.</summary>
    public static long File(string model) => (long)FilePages * (Image(model).High + FilePageTextTokens);
}
