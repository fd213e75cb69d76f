namespace TokenGateway.Metering;

/// <summary>What the hot path needs from a request body, read once without a DOM.</summary>
/// <param name="MaxOutputTokens">The largest output limit the body gives (an upstream may honour any of them).</param>
/// <param name="ServiceTier">The tier asked for (<c>auto</c>, <c>default</c>, <c>flex</c>, <c>priority</c>), or null.</param>
/// <param name="MaxToolCalls">The request's own cap on built-in tool calls, or null.</param>
/// <param name="HasPricedTools">The request offers a tool OpenAI charges per call (web search, file search).</param>
internal sealed record InspectedRequest(
    MeteredEndpoint Endpoint,
    string Model,
    bool Stream,
    int? MaxOutputTokens,
    int Choices,
    bool? IncludeUsage,
    string? ServiceTier = null,
    int? MaxToolCalls = null,
    bool HasPricedTools = false);
