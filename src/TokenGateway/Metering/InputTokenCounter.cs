using System.Text.Json;
using TokenGateway.Tokenizers;

namespace TokenGateway.Metering;

/// <summary>
/// Counts a request's input tokens locally with the model's tiktoken encoding: the text of the
/// messages / input / prompt / instructions / tools, plus OpenAI's per-message overhead. Used only to bill a
/// request that ended before its usage arrived (and never beyond <see cref="InputTokenBound"/>, which sizes the hold),
/// so it runs off the hot path.
/// </summary>
internal static class InputTokenCounter
{
    // OpenAI's chat format: every message is wrapped in 3 tokens, a name costs 1, the reply is primed with 3.
    private const int PerMessage = 3, PerName = 1, ReplyPriming = 3;

    /// <summary>Images are priced by size, which the gateway does not fetch: a high-detail 2048px image is 1,105 tokens on gpt-4o.</summary>
    public const int PerImage = 1105;

    private static readonly HashSet<string> TextFields = ["messages", "input", "prompt", "instructions", "tools", "functions", "response_format", "text", "tool_choice"];
    private static readonly HashSet<string> ImageFields = ["image_url"];
    // In schemas (tools, structured output) the property names are text the model reads too.
    private static readonly HashSet<string> SchemaFields = ["tools", "functions", "response_format", "text"];
    private static readonly HashSet<string> NotText = ["role", "type", "detail", "url", "file_id", "file_data", "image_url", "data", "id", "call_id", "status"];

    public static long Count(InspectedRequest request, ReadOnlySpan<byte> body)
    {
        var tokenizer = TiktokenTokenizer.CreateForModel(request.Model);
        var reader = new Utf8JsonReader(body, RequestInspector.ReaderOptions);
        long tokens = request.Endpoint == MeteredEndpoint.ChatCompletions ? ReplyPriming : 0;
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = reader.GetString()!;
            reader.Read();
            if (!TextFields.Contains(field))
            {
                reader.Skip();
                continue;
            }
            tokens += CountValue(ref reader, tokenizer, field, messagesDepth: field == "messages" ? reader.CurrentDepth + 1 : -1);
        }
        return tokens;
    }

    /// <summary>Counts one value: every string that is text, token ids given as numbers, images by allowance.</summary>
    private static long CountValue(ref Utf8JsonReader reader, Tokenizer tokenizer, string field, int messagesDepth)
    {
        if (reader.TokenType == JsonTokenType.String) return tokenizer.CountTokens(reader.GetString()!);
        if (reader.TokenType is not (JsonTokenType.StartArray or JsonTokenType.StartObject)) return 0;
        long tokens = 0;
        var depth = reader.CurrentDepth;
        var property = field;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    property = reader.GetString()!;
                    if (property == "name" && reader.CurrentDepth == messagesDepth + 1) tokens += PerName;
                    if (ImageFields.Contains(property)) tokens += PerImage;
                    if (SchemaFields.Contains(field)) tokens += tokenizer.CountTokens(property);
                    break;
                case JsonTokenType.StartObject when reader.CurrentDepth == messagesDepth:
                    tokens += PerMessage;
                    break;
                case JsonTokenType.String when !NotText.Contains(property):
                    tokens += tokenizer.CountTokens(reader.GetString()!);
                    break;
                case JsonTokenType.Number when property is "input" or "prompt":
                    tokens++;  // token ids given directly (embeddings, legacy completions)
                    break;
            }
        }
        return tokens;
    }
}
