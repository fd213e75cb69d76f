using System.Text.Json;

namespace TokenGateway.Metering;

/// <summary>Reads the top-level fields of a request body with a <see cref="Utf8JsonReader"/>.</summary>
internal static class RequestInspector
{
    /// <summary>Returns the request, or an error message (with the offending parameter) for a 400.</summary>
    public static (InspectedRequest? Request, string? Error, string? Param) Inspect(MeteredEndpoint endpoint, ReadOnlySpan<byte> body)
    {
        try
        {
            return Read(endpoint, body);
        }
        catch (JsonException)
        {
            return (null, "We could not parse the JSON body of your request. The gateway expects a JSON object (and so does the OpenAI API).", null);
        }
    }

    private static (InspectedRequest?, string?, string?) Read(MeteredEndpoint endpoint, ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            return (null, "The request body must be a JSON object.", null);

        string? model = null;
        bool stream = false;
        int? maxOutput = null;
        int n = 1, bestOf = 1;
        bool? includeUsage = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "model":
                    if (reader.TokenType != JsonTokenType.String) return (null, "'model' must be a string.", "model");
                    model = reader.GetString();
                    break;
                case "stream":
                    if (reader.TokenType is JsonTokenType.True or JsonTokenType.False) stream = reader.GetBoolean();
                    else if (reader.TokenType != JsonTokenType.Null) return (null, "'stream' must be a boolean.", "stream");
                    break;
                case "max_tokens" or "max_completion_tokens" or "max_output_tokens":
                    if (reader.TokenType == JsonTokenType.Null) break;
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var max) || max < 1)
                        return (null, $"'{name}' must be a positive integer.", name);
                    maxOutput = maxOutput is int other ? Math.Min(other, max) : max;
                    break;
                case "n" or "best_of":
                    if (reader.TokenType == JsonTokenType.Null) break;
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var count) || count is < 1 or > 128)
                        return (null, $"'{name}' must be an integer between 1 and 128.", name);
                    if (name == "n") n = count; else bestOf = count;
                    break;
                case "stream_options" when reader.TokenType == JsonTokenType.StartObject:
                    includeUsage = ReadIncludeUsage(ref reader);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            return (null, "The request body must be a single JSON object.", null);
        if (string.IsNullOrEmpty(model))
            return (null, "You must provide a model parameter.", "model");
        if (endpoint == MeteredEndpoint.Embeddings && stream)
            return (null, "Embeddings cannot be streamed.", "stream");
        return (new InspectedRequest(endpoint, model, stream, maxOutput, Math.Max(n, bestOf), includeUsage), null, null);
    }

    private static bool? ReadIncludeUsage(ref Utf8JsonReader reader)
    {
        bool? includeUsage = null;
        var depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != depth + 1) continue;
            var isIncludeUsage = reader.ValueTextEquals("include_usage"u8);
            reader.Read();
            if (isIncludeUsage && reader.TokenType is JsonTokenType.True or JsonTokenType.False) includeUsage = reader.GetBoolean();
            else reader.Skip();
        }
        return includeUsage;
    }
}
