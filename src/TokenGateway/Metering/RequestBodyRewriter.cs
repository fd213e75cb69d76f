using System.Buffers;
using System.Text.Json;

namespace TokenGateway.Metering;

/// <summary>
/// Rewrites the top level of a request body that <see cref="RequestInspector"/> already validated:
/// copies every other property byte for byte and writes the gateway's own values at the end.
/// </summary>
internal static class RequestBodyRewriter
{
    private static readonly string[] OutputLimitNames = ["max_tokens", "max_completion_tokens", "max_output_tokens"];

    /// <param name="outputLimit">When set, replaces every output-limit field by <paramref name="outputLimitField"/> = this.</param>
    /// <param name="includeUsage">When true, replaces <c>stream_options</c> by one with <c>include_usage: true</c>, keeping its other members.</param>
    public static byte[] Rewrite(ReadOnlySpan<byte> body, string? outputLimitField, int? outputLimit, bool includeUsage)
    {
        var output = new ArrayBufferWriter<byte>(body.Length + 64);
        using (var writer = new Utf8JsonWriter(output))
        {
            var reader = new Utf8JsonReader(body, RequestInspector.ReaderOptions);
            reader.Read();
            writer.WriteStartObject();
            ReadOnlySpan<byte> streamOptions = default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                var value = body[start..(int)reader.BytesConsumed];
                if (outputLimit is not null && OutputLimitNames.Contains(name)) continue;
                if (includeUsage && name == "stream_options")
                {
                    streamOptions = value;
                    continue;
                }
                writer.WritePropertyName(name);
                writer.WriteRawValue(value, skipInputValidation: true);
            }
            if (outputLimit is int limit && outputLimitField is not null) writer.WriteNumber(outputLimitField, limit);
            if (includeUsage) WriteStreamOptions(writer, streamOptions);
            writer.WriteEndObject();
        }
        return output.WrittenSpan.ToArray();
    }

    private static void WriteStreamOptions(Utf8JsonWriter writer, ReadOnlySpan<byte> original)
    {
        writer.WriteStartObject("stream_options");
        if (original.Length > 0 && original[0] == (byte)'{')
        {
            var reader = new Utf8JsonReader(original, RequestInspector.ReaderOptions);
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (name == "include_usage") continue;
                writer.WritePropertyName(name);
                writer.WriteRawValue(original[start..(int)reader.BytesConsumed], skipInputValidation: true);
            }
        }
        writer.WriteBoolean("include_usage", true);
        writer.WriteEndObject();
    }
}
