using System.Text.Json;
using System.Text.Json.Serialization;

namespace TokenGateway.MockUpstream;

/// <summary>What one request reports: the options, overridden by the request's <c>x-mock-usage</c> header.</summary>
internal sealed record MockUsage(
    int? PromptTokens, int CachedTokens, int CompletionTokens,
    int AudioInputTokens, int ImageInputTokens, int CacheWriteTokens,
    int ReasoningTokens, int AudioOutputTokens,
    string? ServiceTier, int WebSearchCalls, int FileSearchCalls)
{
    public const string Header = "x-mock-usage";

    // NOTE: an unknown field fails the request (400): a misspelt override would otherwise be a silent no-op.
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <exception cref="JsonException">The header is not a JSON object of the known fields.</exception>
    public static MockUsage For(MockUpstreamOptions o, string? header)
    {
        var u = new MockUsage(o.PromptTokens, o.CachedTokens, o.CompletionTokens, o.AudioInputTokens, o.ImageInputTokens, o.CacheWriteTokens,
            o.ReasoningTokens, o.AudioOutputTokens, o.ServiceTier, o.WebSearchCalls, o.FileSearchCalls);
        if (string.IsNullOrWhiteSpace(header)) return u;
        var h = JsonSerializer.Deserialize<Overrides>(header, Json) ?? throw new JsonException("null is not an object.");
        return new MockUsage(h.PromptTokens ?? u.PromptTokens, h.CachedTokens ?? u.CachedTokens, h.CompletionTokens ?? u.CompletionTokens,
            h.AudioInputTokens ?? u.AudioInputTokens, h.ImageInputTokens ?? u.ImageInputTokens, h.CacheWriteTokens ?? u.CacheWriteTokens,
            h.ReasoningTokens ?? u.ReasoningTokens, h.AudioOutputTokens ?? u.AudioOutputTokens,
            h.ServiceTier ?? u.ServiceTier, h.WebSearchCalls ?? u.WebSearchCalls, h.FileSearchCalls ?? u.FileSearchCalls);
    }

    /// <summary>The header's fields, snake_case; an absent or null one keeps the option's value.</summary>
    private sealed record Overrides(
        int? PromptTokens, int? CachedTokens, int? CompletionTokens,
        int? AudioInputTokens, int? ImageInputTokens, int? CacheWriteTokens,
        int? ReasoningTokens, int? AudioOutputTokens,
        string? ServiceTier, int? WebSearchCalls, int? FileSearchCalls);
}
