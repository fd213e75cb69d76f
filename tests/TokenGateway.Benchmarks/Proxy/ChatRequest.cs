namespace TokenGateway.Benchmarks.Proxy;

/// <summary>The one request every target gets, and what marks its answer as complete.</summary>
internal static class ChatRequest
{
    public const string Model = "gpt-4o-mini";

    /// <summary>
    /// An explicit output limit above what the mock produces (12 tokens), so the gateway holds a bounded
    /// worst case and never lowers the limit or rewrites the body for the balance.
    /// </summary>
    public static string Body(bool stream) =>
        $$"""{"model":"{{Model}}","max_tokens":64,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Say hello in five words."}]}""";

    /// <summary>A 200 counts as complete only when its body holds this (the whole JSON, or the end of the stream).</summary>
    public static string CompleteMarker(bool stream) => stream ? "data: [DONE]" : "\"chat.completion\"";

    public static string ModeName(bool stream) => stream ? "streaming" : "non-streaming";
}
