using System.Text.Encodings.Web;
using System.Text.Json;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>The request every target gets, and what marks its answer as complete.</summary>
internal static class ChatRequest
{
    public const string Model = "gpt-4o-mini";

    /// <summary>The small prompt of the first cases (and of the paced streams).</summary>
    public const string ShortPrompt = "Say hello in five words.";

    // NOTE: the relaxed encoder leaves apostrophes and quotes of the prose readable (\u0027 otherwise), as a client's
    // JSON library typically sends them.
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// An explicit output limit above what the mock produces (12 tokens), so the gateway holds a bounded worst case and
    /// never lowers the limit or rewrites the body for the balance.
    /// </summary>
    public static string Body(bool stream, string prompt = ShortPrompt) =>
        JsonSerializer.Serialize(new { model = Model, max_tokens = 64, stream, messages = new[] { new { role = "user", content = prompt } } }, Json);

    /// <summary>A 200 counts as complete only when its body holds this (the whole JSON, or the end of the stream).</summary>
    public static string CompleteMarker(bool stream) => stream ? "data: [DONE]" : "\"chat.completion\"";

    public static string ModeName(bool stream) => stream ? "streaming" : "non-streaming";
}
