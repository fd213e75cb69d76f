using System.Buffers;
using System.Text.Json;

namespace TokenGateway.Metering;

/// <summary>
/// Finds <c>usage</c> in a JSON document fed in arbitrary chunks as it streams to the client, with a
/// <see cref="Utf8JsonReader"/> that keeps its state between chunks: no DOM, and only the bytes of one
/// unfinished token are kept. Understands Chat/Completions/Embeddings (<c>prompt_tokens</c>,
/// <c>completion_tokens</c>, <c>prompt_tokens_details.cached_tokens</c>) and Responses
/// (<c>input_tokens</c>, <c>output_tokens</c>, <c>input_tokens_details.cached_tokens</c>), at the top
/// level or inside a top-level <c>response</c> object (Responses streaming events).
/// </summary>
internal sealed class JsonUsageScanner
{
    private enum Name { Other, Usage, Response, Prompt, Completion, Input, Output, Details, Cached }

    private readonly ArrayBufferWriter<byte> _pending = new(256);
    private JsonReaderState _state = new(new JsonReaderOptions { MaxDepth = 512 });
    private Name _name;
    private int _usageDepth = -1;   // depth of the usage object's members, when inside it
    private bool _inResponse;
    private bool _inDetails;
    private long _input, _cached, _output;
    private bool _sawUsage;

    public bool Failed { get; private set; }

    /// <summary>The usage, once a complete <c>usage</c> object with token counts has been read.</summary>
    public TokenUsage? Usage => _sawUsage ? new TokenUsage(_input, _cached, _output) : null;

    public void Feed(ReadOnlySpan<byte> chunk)
    {
        if (Failed || chunk.IsEmpty) return;
        ReadOnlySpan<byte> data = chunk;
        if (_pending.WrittenCount > 0)
        {
            _pending.Write(chunk);
            data = _pending.WrittenSpan;
        }
        int consumed;
        try
        {
            consumed = Scan(data, isFinalBlock: false);
        }
        catch (JsonException)
        {
            Failed = true;
            return;
        }
        var rest = data[consumed..].ToArray();
        _pending.ResetWrittenCount();
        _pending.Write(rest);
    }

    /// <summary>Scans one complete document (an SSE <c>data:</c> payload); state starts afresh.</summary>
    public void ScanDocument(ReadOnlySpan<byte> document)
    {
        _state = new JsonReaderState(new JsonReaderOptions { MaxDepth = 512 });
        _usageDepth = -1;
        _inResponse = _inDetails = false;
        try
        {
            Scan(document, isFinalBlock: true);
        }
        catch (JsonException)
        {
            // NOTE: one malformed event must not stop metering of the rest of the stream.
        }
    }

    private int Scan(ReadOnlySpan<byte> data, bool isFinalBlock)
    {
        var reader = new Utf8JsonReader(data, isFinalBlock, _state);
        while (reader.Read())
        {
            var depth = reader.CurrentDepth;
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    _name = NameOf(ref reader);
                    break;
                case JsonTokenType.StartObject:
                    if (_usageDepth < 0 && _name == Name.Usage && (depth == 1 || (depth == 2 && _inResponse)))
                    {
                        _usageDepth = depth + 1;
                        _input = _cached = _output = 0;
                    }
                    else if (_usageDepth < 0 && _name == Name.Response && depth == 1) _inResponse = true;
                    else if (_usageDepth > 0 && depth == _usageDepth && _name == Name.Details) _inDetails = true;
                    _name = Name.Other;
                    break;
                case JsonTokenType.EndObject:
                    if (_inDetails && depth == _usageDepth) _inDetails = false;
                    else if (_usageDepth > 0 && depth == _usageDepth - 1)
                    {
                        _usageDepth = -1;
                        _sawUsage = true;
                    }
                    else if (_inResponse && depth == 1) _inResponse = false;
                    break;
                case JsonTokenType.Number when _usageDepth > 0:
                    if (!reader.TryGetInt64(out var value) || value < 0) break;
                    if (depth == _usageDepth)
                    {
                        if (_name is Name.Prompt or Name.Input) _input = value;
                        else if (_name is Name.Completion or Name.Output) _output = value;
                    }
                    else if (_inDetails && depth == _usageDepth + 1 && _name == Name.Cached) _cached = value;
                    break;
            }
        }
        _state = reader.CurrentState;
        return (int)reader.BytesConsumed;
    }

    private static Name NameOf(ref Utf8JsonReader r) =>
        r.ValueTextEquals("usage"u8) ? Name.Usage
        : r.ValueTextEquals("response"u8) ? Name.Response
        : r.ValueTextEquals("prompt_tokens"u8) ? Name.Prompt
        : r.ValueTextEquals("completion_tokens"u8) ? Name.Completion
        : r.ValueTextEquals("input_tokens"u8) ? Name.Input
        : r.ValueTextEquals("output_tokens"u8) ? Name.Output
        : r.ValueTextEquals("prompt_tokens_details"u8) || r.ValueTextEquals("input_tokens_details"u8) ? Name.Details
        : r.ValueTextEquals("cached_tokens"u8) ? Name.Cached
        : Name.Other;
}
