namespace TokenGateway.Metering;

/// <summary>
/// What one request used, as the upstream reported it. <see cref="Input"/> includes every other input
/// count (cached, cache writes, audio, image); <see cref="Output"/> includes reasoning and audio output.
/// </summary>
internal readonly record struct TokenUsage(long Input, long Cached, long Output)
{
    public long CacheWrite { get; init; }
    public long AudioInput { get; init; }
    public long ImageInput { get; init; }
    public long Reasoning { get; init; }
    public long AudioOutput { get; init; }
    public long WebSearchCalls { get; init; }
    public long FileSearchCalls { get; init; }

    /// <summary>The tier the response says served it (<c>default</c>, <c>flex</c>, <c>priority</c>…), when it says.</summary>
    public string? ServiceTier { get; init; }
}
