namespace TokenGateway.MockUpstream;

/// <summary>
/// What the mock answers. Mutable so that a test can change the behaviour of a running server;
/// every request reads the current values once.
/// </summary>
public sealed class MockUpstreamOptions
{
    /// <summary>Reported <c>prompt_tokens</c>/<c>input_tokens</c>; null counts whitespace-separated words of the input text.</summary>
    public int? PromptTokens { get; set; } = 40;

    /// <summary>Reported cached input tokens (inside the prompt tokens).</summary>
    public int CachedTokens { get; set; }

    /// <summary>Output tokens produced (one word, one token); capped by the request's output limit.</summary>
    public int CompletionTokens { get; set; } = 12;

    /// <summary>When set, every request is answered with this status and an OpenAI-shaped error body.</summary>
    public int? FailWithStatus { get; set; }

    /// <summary>Streaming: close the connection abruptly after this many content deltas (no usage, no [DONE]).</summary>
    public int? CutStreamAfterDeltas { get; set; }

    /// <summary>Streaming: after <see cref="HoldAfterEvents"/> events, wait for this task before sending the rest.</summary>
    public Task? HoldStream { get; set; }

    /// <summary>How many events are sent before <see cref="HoldStream"/> is awaited.</summary>
    public int HoldAfterEvents { get; set; } = 1;

    /// <summary>Delay before answering (both modes).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Compress the response with gzip when the request accepts it.</summary>
    public bool GzipWhenAccepted { get; set; } = true;
}
