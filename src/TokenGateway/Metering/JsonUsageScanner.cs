using System.Buffers;
using System.Text.Json;

namespace TokenGateway.Metering;

/// <summary>
/// Finds what a response bills in a JSON document fed in arbitrary chunks as it streams to the client,
/// with a <see cref="Utf8JsonReader"/> that keeps its state between chunks: no DOM, and only the bytes of
/// one unfinished token are kept. At the top level, or inside a top-level <c>response</c> object
/// (Responses streaming events), it reads:
/// <list type="bullet">
/// <item><c>usage</c>: Chat/Completions/Embeddings (<c>prompt_tokens</c>, <c>completion_tokens</c>,
/// <c>prompt_tokens_details</c>, <c>completion_tokens_details</c>) and Responses (<c>input_tokens</c>,
/// <c>output_tokens</c>, <c>input_tokens_details</c>, <c>output_tokens_details</c>); details:
/// <c>cached_tokens</c>, <c>audio_tokens</c>, <c>image_tokens</c>, <c>cache_write_tokens</c>, <c>reasoning_tokens</c>;</item>
/// <item><c>service_tier</c>: the tier that served the request;</item>
/// <item><c>output[]</c> items of type <c>web_search_call</c> and <c>file_search_call</c> (priced per call).</item>
/// </list>
/// </summary>
internal sealed class JsonUsageScanner
{
    private enum Name { Other, Usage, Response, Prompt, Completion, InputDetails, OutputDetails, Cached, Audio, Image, CacheWrite, Reasoning, ServiceTier, Output, Type }

    private enum Details { None, Input, Output }

    private static readonly JsonReaderOptions Options = new() { MaxDepth = 512 };

    private readonly ArrayBufferWriter<byte> _pending = new(256);
    private JsonReaderState _state = new(Options);
    private Name _name;
    private int _usageDepth = -1;   // depth of the usage object's members, when inside it
    private int _itemsDepth = -1;   // depth of the output array's items, when inside it
    private bool _inResponse;
    private Details _details;
    private long _input, _cached, _cacheWrite, _audioIn, _imageIn, _output, _reasoning, _audioOut, _webSearches, _fileSearches;
    private string? _serviceTier;
    private bool _sawUsage;

    public bool Failed { get; private set; }

    /// <summary>The usage, once a complete <c>usage</c> object with token counts has been read.</summary>
    public TokenUsage? Usage => _sawUsage
        ? new TokenUsage(_input, _cached, _output)
        {
            CacheWrite = _cacheWrite, AudioInput = _audioIn, ImageInput = _imageIn, Reasoning = _reasoning, AudioOutput = _audioOut,
            WebSearchCalls = _webSearches, FileSearchCalls = _fileSearches, ServiceTier = _serviceTier,
        }
        : null;

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
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            Failed = true;
            return;
        }
        // NOTE: most chunks end on a token boundary, and then nothing is kept (or copied).
        var rest = data.Length == consumed ? Array.Empty<byte>() : data[consumed..].ToArray();
        _pending.ResetWrittenCount();
        _pending.Write(rest);
    }

    /// <summary>Scans one complete document (an SSE <c>data:</c> payload); state starts afresh.</summary>
    public void ScanDocument(ReadOnlySpan<byte> document)
    {
        _state = new JsonReaderState(Options);
        _usageDepth = _itemsDepth = -1;
        _inResponse = false;
        _details = Details.None;
        try
        {
            Scan(document, isFinalBlock: true);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
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
            // Members of the document, or of its "response" object: where usage, service_tier and output live.
            var carrier = depth == 1 || (depth == 2 && _inResponse);
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    _name = NameOf(ref reader);
                    break;
                case JsonTokenType.StartObject:
                    StartObject(depth, carrier);
                    break;
                case JsonTokenType.StartArray:
                    StartArray(depth, carrier);
                    break;
                case JsonTokenType.EndArray:
                    if (depth == _itemsDepth - 1) _itemsDepth = -1;
                    break;
                case JsonTokenType.EndObject:
                    EndObject(depth);
                    break;
                case JsonTokenType.String:
                    String(ref reader, depth, carrier);
                    break;
                case JsonTokenType.Number when _usageDepth > 0:
                    Number(ref reader, depth);
                    break;
            }
        }
        _state = reader.CurrentState;
        return (int)reader.BytesConsumed;
    }

    private void StartObject(int depth, bool carrier)
    {
        if (_usageDepth < 0 && _name == Name.Usage && carrier)
        {
            _usageDepth = depth + 1;
            _input = _cached = _cacheWrite = _audioIn = _imageIn = _output = _reasoning = _audioOut = 0;
        }
        else if (_usageDepth < 0 && _name == Name.Response && depth == 1) _inResponse = true;
        else if (_usageDepth > 0 && depth == _usageDepth)
            _details = _name == Name.InputDetails ? Details.Input : _name == Name.OutputDetails ? Details.Output : Details.None;
        _name = Name.Other;
    }

    private void StartArray(int depth, bool carrier)
    {
        if (_itemsDepth < 0 && _usageDepth < 0 && _name == Name.Output && carrier)
        {
            // NOTE: a later output array (response.completed after response.created) replaces the earlier count.
            _itemsDepth = depth + 1;
            _webSearches = _fileSearches = 0;
        }
        _name = Name.Other;
    }

    private void EndObject(int depth)
    {
        if (_details != Details.None && depth == _usageDepth) _details = Details.None;
        else if (_usageDepth > 0 && depth == _usageDepth - 1)
        {
            _usageDepth = -1;
            _sawUsage = true;
        }
        else if (_inResponse && depth == 1) _inResponse = false;
    }

    private void String(ref Utf8JsonReader reader, int depth, bool carrier)
    {
        if (_name == Name.ServiceTier && carrier && _usageDepth < 0) _serviceTier = TierOf(ref reader);
        else if (_name == Name.Type && _itemsDepth > 0 && depth == _itemsDepth + 1)
        {
            if (reader.ValueTextEquals("web_search_call"u8)) _webSearches++;
            else if (reader.ValueTextEquals("file_search_call"u8)) _fileSearches++;
        }
    }

    private void Number(ref Utf8JsonReader reader, int depth)
    {
        if (!reader.TryGetInt64(out var value) || value < 0) return;
        if (depth == _usageDepth)
        {
            if (_name == Name.Prompt) _input = value;
            else if (_name == Name.Completion) _output = value;
        }
        else if (depth == _usageDepth + 1) Detail(value);
    }

    private void Detail(long value)
    {
        switch (_details, _name)
        {
            case (Details.Input, Name.Cached): _cached = value; break;
            case (Details.Input, Name.Audio): _audioIn = value; break;
            case (Details.Input, Name.Image): _imageIn = value; break;
            case (Details.Input, Name.CacheWrite): _cacheWrite = value; break;
            case (Details.Output, Name.Reasoning): _reasoning = value; break;
            case (Details.Output, Name.Audio): _audioOut = value; break;
        }
    }

    /// <summary>A tier name from the gateway's own vocabulary: an upstream's string is never kept as it is.</summary>
    private static string TierOf(ref Utf8JsonReader r) =>
        r.ValueTextEquals("flex"u8) ? "flex"
        : r.ValueTextEquals("priority"u8) ? "priority"
        : r.ValueTextEquals("scale"u8) ? "scale"
        : "default";

    private static Name NameOf(ref Utf8JsonReader r) =>
        r.ValueTextEquals("usage"u8) ? Name.Usage
        : r.ValueTextEquals("response"u8) ? Name.Response
        : r.ValueTextEquals("prompt_tokens"u8) || r.ValueTextEquals("input_tokens"u8) ? Name.Prompt
        : r.ValueTextEquals("completion_tokens"u8) || r.ValueTextEquals("output_tokens"u8) ? Name.Completion
        : r.ValueTextEquals("prompt_tokens_details"u8) || r.ValueTextEquals("input_tokens_details"u8) ? Name.InputDetails
        : r.ValueTextEquals("completion_tokens_details"u8) || r.ValueTextEquals("output_tokens_details"u8) ? Name.OutputDetails
        : r.ValueTextEquals("cached_tokens"u8) ? Name.Cached
        : r.ValueTextEquals("audio_tokens"u8) ? Name.Audio
        : r.ValueTextEquals("image_tokens"u8) ? Name.Image
        : r.ValueTextEquals("cache_write_tokens"u8) ? Name.CacheWrite
        : r.ValueTextEquals("reasoning_tokens"u8) ? Name.Reasoning
        : r.ValueTextEquals("service_tier"u8) ? Name.ServiceTier
        : r.ValueTextEquals("output"u8) ? Name.Output
        : r.ValueTextEquals("type"u8) ? Name.Type
        : Name.Other;
}
