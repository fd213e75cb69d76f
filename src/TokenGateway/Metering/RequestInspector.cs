using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace TokenGateway.Metering;

/// <summary>
/// The one reader of a request body: validates what every later reader relies on (UTF-8, escapes,
/// depth, one value per metered field) and reads the top-level fields the hot path needs. A body it
/// accepts can be read by <see cref="InputTokenBound"/>, <see cref="InputTokenCounter"/> and <see cref="RequestBodyRewriter"/> without
/// an exception; a body it refuses gets a 400 before anything is reserved or forwarded.
/// </summary>
internal static class RequestInspector
{
    /// <summary>Deeper than this is refused; every reader of the body uses the same options.</summary>
    public const int MaxDepth = 128;

    public static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth };

    private static readonly string[] MeteredFields = ["model", "stream", "stream_options", "max_tokens", "max_completion_tokens", "max_output_tokens", "n", "best_of", "service_tier", "max_tool_calls", "tools"];

    // NOTE: property names are matched as UTF-8, so the fields the gateway does not meter (messages, temperature, …) cost no string.
    private static readonly byte[][] MeteredFieldsUtf8 = [.. MeteredFields.Select(Encoding.UTF8.GetBytes)];

    /// <summary>Returns the request, or an error message (with the offending parameter) for a 400.</summary>
    public static (InspectedRequest? Request, string? Error, string? Param) Inspect(MeteredEndpoint endpoint, ReadOnlySpan<byte> body)
    {
        if (!Utf8.IsValid(body))
            return (null, "The request body is not valid UTF-8.", null);
        try
        {
            if (HasEscapedSurrogate(body) && FindInvalidString(body))
                return (null, "The request body contains a string with an unpaired UTF-16 surrogate escape (such as \"\\ud83d\" alone), which is not valid Unicode.", null);
            return Read(endpoint, body);
        }
        catch (JsonException)
        {
            return (null, $"We could not parse the JSON body of your request: it must be valid JSON, nested at most {MaxDepth} levels deep.", null);
        }
    }

    /// <summary>The metered top-level fields, as read so far.</summary>
    private struct Fields
    {
        public string? Model, ServiceTier;
        public bool Stream, PricedTools;
        public int? MaxOutput, MaxToolCalls;
        public int N, BestOf;
        public bool? IncludeUsage;
        public int Seen;
    }

    private static (InspectedRequest?, string?, string?) Read(MeteredEndpoint endpoint, ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, ReaderOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            return (null, "The request body must be a JSON object.", null);
        var f = new Fields { N = 1, BestOf = 1 };
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = FieldOf(ref reader);
            reader.Read();
            if (field < 0)
            {
                reader.Skip();
                continue;
            }
            if (ReadField(ref reader, field, ref f) is { } error) return (null, error, MeteredFields[field]);
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            return (null, "The request body must be a single JSON object.", null);
        if (string.IsNullOrEmpty(f.Model))
            return (null, "You must provide a model parameter.", "model");
        if (endpoint == MeteredEndpoint.Embeddings && f.Stream)
            return (null, "Embeddings cannot be streamed.", "stream");
        return (new InspectedRequest(endpoint, f.Model, f.Stream, f.MaxOutput, Math.Max(f.N, f.BestOf), f.IncludeUsage, f.ServiceTier, f.MaxToolCalls, f.PricedTools), null, null);
    }

    /// <summary>The index in <see cref="MeteredFields"/> of the property name the reader is on, or -1.</summary>
    private static int FieldOf(ref Utf8JsonReader reader)
    {
        for (var i = 0; i < MeteredFieldsUtf8.Length; i++)
            if (reader.ValueTextEquals(MeteredFieldsUtf8[i])) return i;
        return -1;
    }

    /// <summary>Reads the value of a metered top-level field (the reader is on it); returns the error message when it is refused.</summary>
    private static string? ReadField(ref Utf8JsonReader reader, int field, ref Fields f)
    {
        var name = MeteredFields[field];
        // NOTE: parsers disagree on which duplicate wins; the hold must be for what the upstream will do.
        if ((f.Seen & (1 << field)) != 0) return $"'{name}' is given more than once.";
        f.Seen |= 1 << field;
        if (reader.TokenType == JsonTokenType.Null && name != "model") return null;
        switch (name)
        {
            case "model":
                if (reader.TokenType != JsonTokenType.String) return "'model' must be a string.";
                f.Model = reader.GetString();
                return null;
            case "stream":
                if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False)) return "'stream' must be a boolean.";
                f.Stream = reader.GetBoolean();
                return null;
            case "max_tokens" or "max_completion_tokens" or "max_output_tokens":
                if (!PositiveInt(ref reader, out var max)) return $"'{name}' must be a positive integer.";
                f.MaxOutput = Math.Max(f.MaxOutput ?? 0, max);
                return null;
            case "n" or "best_of":
                if (!PositiveInt(ref reader, out var count) || count > 128) return $"'{name}' must be an integer between 1 and 128.";
                if (name == "n") f.N = count; else f.BestOf = count;
                return null;
            case "stream_options":
                if (reader.TokenType != JsonTokenType.StartObject) return "'stream_options' must be an object.";
                return ReadIncludeUsage(ref reader, out f.IncludeUsage) ? null : "'stream_options.include_usage' must be a boolean.";
            case "service_tier":
                if (reader.TokenType != JsonTokenType.String) return "'service_tier' must be a string.";
                f.ServiceTier = reader.GetString();
                return null;
            case "max_tool_calls":
                if (!PositiveInt(ref reader, out var calls)) return "'max_tool_calls' must be a positive integer.";
                f.MaxToolCalls = calls;
                return null;
            case "tools" when reader.TokenType == JsonTokenType.StartArray:
                f.PricedTools = HasPricedTool(ref reader);
                return null;
            default:
                reader.Skip();
                return null;
        }
    }

    private static bool PositiveInt(ref Utf8JsonReader reader, out int value)
    {
        value = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out value) && value >= 1;
    }

    /// <summary>Reads <c>include_usage</c> of a <c>stream_options</c> object; false when it is not a boolean.</summary>
    private static bool ReadIncludeUsage(ref Utf8JsonReader reader, out bool? includeUsage)
    {
        includeUsage = null;
        var depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            var isIncludeUsage = reader.ValueTextEquals("include_usage"u8);
            reader.Read();
            if (isIncludeUsage)
            {
                if (includeUsage is not null) return false;
                if (reader.TokenType is JsonTokenType.True or JsonTokenType.False) includeUsage = reader.GetBoolean();
                else if (reader.TokenType != JsonTokenType.Null) return false;
            }
            else reader.Skip();
        }
        return true;
    }

    /// <summary>True when a tool of the array is one OpenAI charges per call (web_search*, file_search).</summary>
    private static bool HasPricedTool(ref Utf8JsonReader reader)
    {
        var found = false;
        var depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 2 && reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    var type = reader.GetString()!;
                    found |= type.StartsWith("web_search", StringComparison.Ordinal) || type == "file_search";
                }
            }
            else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth > depth + 1) reader.Skip();
        }
        return found;
    }

    /// <summary>A cheap test first: only a body with a <c>\uD8..</c>–<c>\uDF..</c> escape needs every string decoded.</summary>
    private static bool HasEscapedSurrogate(ReadOnlySpan<byte> body)
    {
        for (var i = body.IndexOf("\\u"u8); i >= 0 && i + 3 < body.Length; )
        {
            if (body[i + 2] is (byte)'d' or (byte)'D' && body[i + 3] is >= (byte)'8' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F')
                return true;
            var next = body[(i + 2)..].IndexOf("\\u"u8);
            i = next < 0 ? -1 : i + 2 + next;
        }
        return false;
    }

    /// <summary>Decodes every escaped string and property name: .NET refuses an unpaired surrogate there.</summary>
    private static bool FindInvalidString(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, ReaderOptions);
        Span<char> scratch = stackalloc char[256];
        while (reader.Read())
        {
            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName) || !reader.ValueIsEscaped) continue;
            try
            {
                _ = reader.ValueSpan.Length <= 256 ? reader.CopyString(scratch) : reader.GetString()!.Length;
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }
        return false;
    }
}
