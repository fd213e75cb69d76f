namespace TokenGateway.Metering;

/// <summary>The OpenAI endpoints the gateway meters; anything else that costs money is refused.</summary>
internal enum MeteredEndpoint { ChatCompletions, Completions, Responses, Embeddings }

internal static class MeteredEndpoints
{
    public static MeteredEndpoint? FromPath(PathString path) => path.Value switch
    {
        "/v1/chat/completions" => MeteredEndpoint.ChatCompletions,
        "/v1/completions" => MeteredEndpoint.Completions,
        "/v1/responses" => MeteredEndpoint.Responses,
        "/v1/embeddings" => MeteredEndpoint.Embeddings,
        _ => null,
    };

    /// <summary>The request field that limits output on this endpoint (what a clamp writes).</summary>
    public static string? OutputLimitField(this MeteredEndpoint e) => e switch
    {
        MeteredEndpoint.ChatCompletions => "max_completion_tokens",
        MeteredEndpoint.Completions => "max_tokens",
        MeteredEndpoint.Responses => "max_output_tokens",
        _ => null,
    };
}
