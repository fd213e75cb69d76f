using System.Text;
using System.Text.Json;

namespace TokenGateway.Metering;

/// <summary>
/// Reads each server-sent event of a streamed response: the usage (Chat/Completions usage chunk;
/// Responses <c>response.completed</c>/<c>incomplete</c>/<c>failed</c>), the output text of the deltas
/// (for billing a stream cut before its usage), and whether the event is the usage-only chunk that
/// the gateway asked for on the client's behalf.
/// </summary>
internal sealed class StreamEventReader(MeteredEndpoint endpoint)
{
    private readonly JsonUsageScanner _usage = new();
    private readonly StringBuilder _output = new();

    public TokenUsage? Usage => _usage.Usage;

    /// <summary>Text of every delta streamed so far (all choices): what the client received. Safe to read while the stream runs (the heartbeat does).</summary>
    public string OutputText
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>Reads one complete event; returns true when it is a usage-only chunk (<c>choices: []</c>).</summary>
    public bool Read(ReadOnlySpan<byte> sseEvent)
    {
        var data = DataOf(sseEvent);
        if (data.IsEmpty || data.SequenceEqual("[DONE]"u8)) return false;
        _usage.ScanDocument(data);
        try
        {
            // NOTE: the lock only guards _output against the heartbeat's read of OutputText.
            lock (_output) return endpoint == MeteredEndpoint.Responses ? ReadResponsesEvent(data) : ReadChoicesChunk(data);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // NOTE: an upstream's malformed event (bad JSON, invalid UTF-8) is passed on, never a reason to fail the request.
            return false;
        }
    }

    /// <summary>The property names a Chat/Completions chunk is read for; <see cref="Text"/>: content, text, refusal, arguments.</summary>
    private enum Property { Other, Usage, Choices, Text }

    /// <summary>Chat/Completions chunk: collects <c>choices[].delta.{content,refusal,tool_calls[].function.arguments}</c> and <c>choices[].text</c>.</summary>
    private bool ReadChoicesChunk(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data);
        bool inChoices = false, emptyChoices = false, hasUsage = false;
        var property = Property.Other;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    property = PropertyOf(ref reader);
                    if (reader.CurrentDepth == 1 && property == Property.Usage)
                    {
                        reader.Read();
                        hasUsage = reader.TokenType == JsonTokenType.StartObject;
                        reader.Skip();
                    }
                    break;
                case JsonTokenType.StartArray when reader.CurrentDepth == 1 && property == Property.Choices:
                    inChoices = true;
                    emptyChoices = reader.Read() && reader.TokenType == JsonTokenType.EndArray;
                    if (emptyChoices) inChoices = false;
                    else if (reader.TokenType == JsonTokenType.String) AppendOutput(ref reader);
                    break;
                case JsonTokenType.EndArray when reader.CurrentDepth == 1:
                    inChoices = false;
                    break;
                case JsonTokenType.String when inChoices && property == Property.Text:
                    AppendOutput(ref reader);
                    break;
            }
        }
        return emptyChoices && hasUsage;
    }

    // NOTE: names compared as UTF-8 and deltas decoded on the stack: a chunk's dozen property names and its text cost no
    // strings (issue 14: a stream is a few dozen chunks).
    private static Property PropertyOf(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("usage"u8) ? Property.Usage
        : reader.ValueTextEquals("choices"u8) ? Property.Choices
        : reader.ValueTextEquals("content"u8) || reader.ValueTextEquals("text"u8) || reader.ValueTextEquals("refusal"u8) || reader.ValueTextEquals("arguments"u8) ? Property.Text
        : Property.Other;

    /// <summary>Appends the string the reader is on (an unescaped string has no more UTF-16 chars than UTF-8 bytes).</summary>
    private void AppendOutput(ref Utf8JsonReader reader)
    {
        if (reader.ValueSpan.Length > 256)
        {
            _output.Append(reader.GetString());
            return;
        }
        Span<char> chars = stackalloc char[256];
        _output.Append(chars[..reader.CopyString(chars)]);
    }

    /// <summary>Responses event: collects the <c>delta</c> of every <c>*.delta</c> event.</summary>
    private bool ReadResponsesEvent(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data);
        string? type = null, delta = null;
        while (reader.Read())
        {
            if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1) continue;
            var isType = reader.ValueTextEquals("type"u8);
            var isDelta = reader.ValueTextEquals("delta"u8);
            reader.Read();
            if (isType && reader.TokenType == JsonTokenType.String) type = reader.GetString();
            else if (isDelta && reader.TokenType == JsonTokenType.String) delta = reader.GetString();
            else reader.Skip();
        }
        if (delta is not null && type is not null && type.EndsWith(".delta", StringComparison.Ordinal)) _output.Append(delta);
        return false;
    }

    /// <summary>The event's <c>data:</c> payload (multi-line data joined with '\n' per the SSE spec).</summary>
    private static ReadOnlySpan<byte> DataOf(ReadOnlySpan<byte> sseEvent)
    {
        byte[]? joined = null;
        ReadOnlySpan<byte> single = default;
        var count = 0;
        foreach (var range in sseEvent.Split((byte)'\n'))
        {
            var line = sseEvent[range].TrimEnd((byte)'\r');
            if (!line.StartsWith("data:"u8)) continue;
            var value = line[5..];
            if (!value.IsEmpty && value[0] == (byte)' ') value = value[1..];
            if (count++ == 0) single = value;
            else joined = [.. (joined ?? single.ToArray()), (byte)'\n', .. value];
        }
        return joined ?? single;
    }
}
