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

    // NOTE: the usage details below are reported as set, not derived from the text: the output stays one word per
    // completion token. The x-mock-usage request header overrides any of them (and the three above) per request.

    /// <summary>Reported audio input tokens (inside the prompt tokens).</summary>
    public int AudioInputTokens { get; set; }

    /// <summary>Reported image input tokens (inside the prompt tokens); reported only when not 0.</summary>
    public int ImageInputTokens { get; set; }

    /// <summary>Reported cache-write input tokens (inside the prompt tokens); reported only when not 0.</summary>
    public int CacheWriteTokens { get; set; }

    /// <summary>Reported reasoning tokens (inside the completion tokens).</summary>
    public int ReasoningTokens { get; set; }

    /// <summary>Reported audio output tokens (inside the completion tokens).</summary>
    public int AudioOutputTokens { get; set; }

    /// <summary>Reported <c>service_tier</c>; null reports the request's, "default" when it asks "auto" or nothing.</summary>
    public string? ServiceTier { get; set; }

    /// <summary>Responses: <c>web_search_call</c> items in the output, before the message.</summary>
    public int WebSearchCalls { get; set; }

    /// <summary>Responses: <c>file_search_call</c> items in the output, before the message (after the web searches).</summary>
    public int FileSearchCalls { get; set; }

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

    /// <summary>Send OpenAI's x-ratelimit-* headers (of the provider account, fixed values) with every answer, as OpenAI does.</summary>
    public bool RateLimitHeaders { get; set; }

    /// <summary>
    /// Streaming: pause before each content delta, as a model producing tokens at a steady pace (the first event, the
    /// role chunk, is sent at once). The <c>x-mock-delta-interval-ms</c> request header adds to it per request.
    /// </summary>
    public TimeSpan DeltaInterval { get; set; }

    /// <summary>Compress the response with gzip when the request accepts it.</summary>
    public bool GzipWhenAccepted { get; set; } = true;

    /// <summary>Compress every JSON answer with gzip, asked or not: an upstream that ignores Accept-Encoding.</summary>
    public bool GzipAlways { get; set; }
}
