using System.Buffers;
using System.Text.Json;

namespace TokenGateway.Metering;

/// <summary>
/// The input part of a hold: an upper bound of the input tokens the upstream can bill for a request, read from the
/// body's bytes without a tokenizer.
/// <para>
/// Text: OpenAI's tokenizers are byte-level BPE, so every token of a text covers at least one of its UTF-8 bytes,
/// and a string's bytes as sent in JSON (escapes included) are at least its UTF-8 bytes. The bound counts the bytes
/// of every string, property name, number and literal of every field that can reach the model — every top-level
/// field but the <see cref="Controls"/> — so the messages, instructions, tool and schema definitions, token ids given
/// as numbers (each at least one byte) and any field OpenAI adds later are all counted. On top of that, the
/// formatting the upstream wraps them in: <see cref="PerObject"/> for every object (a message, a content part, a
/// tool, a schema node) and every counted field (a string <c>input</c> or <c>instructions</c> becomes a message),
/// and <see cref="PerRequest"/> once.
/// </para>
/// <para>
/// Media payloads (the data or URL of an image, of an audio clip, of a file) are not text the model reads: inside a
/// part whose <c>type</c> says so they are left out and the part is bounded by <see cref="MediaTokenBounds"/> instead.
/// A payload outside such a part is counted as text, so a guess wrong here only makes the hold larger.
/// </para>
/// Not bounded by the body, and so not by this: state the upstream holds (<c>previous_response_id</c>,
/// <c>conversation</c>, stored prompts, an earlier audio answer by id) and what built-in tools add to the context.
/// </summary>
internal static class InputTokenBound
{
    /// <summary>
    /// Tokens of formatting around each object and counted field. OpenAI's chat format spends 3 per message
    /// (<c>&lt;|im_start|&gt;</c>, the role, <c>&lt;|im_sep|&gt;</c>… <c>&lt;|im_end|&gt;</c>) and 1 per name; tool
    /// definitions are rendered as TypeScript, whose punctuation per node is fewer tokens than the JSON's own.
    /// </summary>
    public const int PerObject = 8;

    /// <summary>Tokens added once: OpenAI primes the reply with 3 (<c>&lt;|im_start|&gt;assistant&lt;|im_sep|&gt;</c>); taken tenfold.</summary>
    public const int PerRequest = 32;

    /// <summary>Top-level fields that are request settings, never shown to the model.</summary>
    private static readonly HashSet<string> Controls =
    [
        "model", "stream", "stream_options", "max_tokens", "max_completion_tokens", "max_output_tokens", "n", "best_of",
        "service_tier", "max_tool_calls", "temperature", "top_p", "seed", "user", "metadata", "store", "logprobs",
        "top_logprobs", "logit_bias", "presence_penalty", "frequency_penalty", "parallel_tool_calls", "stop",
        "include", "background", "truncation", "safety_identifier", "prompt_cache_key", "prompt_cache_retention",
        "previous_response_id", "conversation", "modalities", "encoding_format", "dimensions", "echo",
    ];

    // NOTE: declared after Controls: static fields initialize in order.
    private static readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> ControlNames = Controls.GetAlternateLookup<ReadOnlySpan<char>>();

    private enum Media : byte { None, Image, Audio, File }

    /// <summary>The property whose value an object is: a media wrapper passes its payload up to the part around it.</summary>
    private enum Owner : byte { Other, ImageUrl, InputAudio, File }

    /// <summary>One object being read.</summary>
    private struct Frame
    {
        public Owner Owner;
        public Media Kind;
        public long Payload;
        public bool LowDetail, OtherDetail;
    }

    /// <summary>The bound for <paramref name="body"/>, a request to <paramref name="model"/> that <see cref="RequestInspector"/> accepted.</summary>
    public static long Count(string model, ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, RequestInspector.ReaderOptions);
        long tokens = PerRequest;
        // NOTE: pooled (129 frames are 3 KB, the largest allocation of a small request's parse); every frame is written
        // when its object opens, so what a previous renter left is never read.
        Frame[]? frames = null;
        try
        {
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var counted = !IsControl(ref reader);
                reader.Read();
                if (!counted) reader.Skip();
                else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    tokens += PerObject + CountNested(ref reader, model, frames ??= ArrayPool<Frame>.Shared.Rent(RequestInspector.MaxDepth + 1));
                else tokens += PerObject + reader.ValueSpan.Length;
            }
            return tokens;
        }
        finally
        {
            if (frames is not null) ArrayPool<Frame>.Shared.Return(frames);
        }
    }

    /// <summary>Whether the property name the reader is on is one of the <see cref="Controls"/>, decoded on the stack.</summary>
    private static bool IsControl(ref Utf8JsonReader reader)
    {
        if (reader.ValueSpan.Length > 64) return Controls.Contains(reader.GetString()!);
        Span<char> name = stackalloc char[64];
        return ControlNames.Contains(name[..reader.CopyString(name)]);
    }

    /// <summary>Counts an object or array (the reader is on its start) and leaves the reader on its end.</summary>
    private static long CountNested(ref Utf8JsonReader reader, string model, Frame[] frames)
    {
        long tokens = 0;
        var top = -1;
        var depth = reader.CurrentDepth;
        var owner = Owner.Other;
        ReadOnlySpan<byte> property = default;
        while (true)
        {
            var named = false;
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    frames[++top] = new Frame { Owner = owner };
                    tokens += PerObject;
                    break;
                case JsonTokenType.EndObject:
                    tokens += Close(frames, top--, model);
                    break;
                case JsonTokenType.PropertyName:
                    tokens += reader.ValueSpan.Length;
                    property = reader.ValueSpan;
                    owner = property.SequenceEqual("image_url"u8) ? Owner.ImageUrl
                        : property.SequenceEqual("input_audio"u8) ? Owner.InputAudio
                        : property.SequenceEqual("file"u8) ? Owner.File
                        : Owner.Other;
                    named = true;
                    break;
                case JsonTokenType.String when top >= 0:
                    tokens += ReadString(ref reader, ref frames[top], property);
                    break;
                case JsonTokenType.String or JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null:
                    tokens += reader.ValueSpan.Length;
                    break;
            }
            if (reader.CurrentDepth == depth && reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray) return tokens;
            if (!named)
            {
                // A value was read (or an array opened): the property named before it no longer applies.
                property = default;
                owner = Owner.Other;
            }
            reader.Read();
        }
    }

    /// <summary>A string inside an object: a media payload is set aside for the part; anything else is text.</summary>
    private static long ReadString(ref Utf8JsonReader reader, ref Frame frame, ReadOnlySpan<byte> property)
    {
        if (IsPayload(property, frame.Owner))
        {
            frame.Payload += reader.ValueSpan.Length;
            return 0;
        }
        if (property.SequenceEqual("type"u8)) frame.Kind = KindOf(reader.ValueSpan, frame.Kind);
        else if (property.SequenceEqual("detail"u8))
        {
            // NOTE: any detail but "low" (or two details, which parsers read differently) is high.
            if (reader.ValueSpan.SequenceEqual("low"u8)) frame.LowDetail = true;
            else frame.OtherDetail = true;
        }
        return reader.ValueSpan.Length;
    }

    /// <summary>
    /// A string that is the data or URL of a medium rather than text: an image's URL (<c>image_url</c>, or <c>url</c>
    /// inside an <c>image_url</c> object), an audio clip's <c>data</c> inside <c>input_audio</c>, a file's <c>file_data</c>.
    /// </summary>
    private static bool IsPayload(ReadOnlySpan<byte> property, Owner owner) =>
        property.SequenceEqual("image_url"u8) || property.SequenceEqual("file_data"u8)
        || (owner == Owner.ImageUrl && property.SequenceEqual("url"u8))
        || (owner == Owner.InputAudio && property.SequenceEqual("data"u8));

    private static Media KindOf(ReadOnlySpan<byte> type, Media current) =>
        type.SequenceEqual("image_url"u8) || type.SequenceEqual("input_image"u8) || type.SequenceEqual("computer_screenshot"u8) ? Media.Image
        : type.SequenceEqual("input_audio"u8) ? Media.Audio
        : type.SequenceEqual("file"u8) || type.SequenceEqual("input_file"u8) ? Media.File
        : current;

    /// <summary>
    /// Ends the object at <paramref name="index"/>: a media part is bounded as its medium; a media wrapper
    /// (<c>image_url</c>, <c>input_audio</c>, <c>file</c>) hands its payload and detail to the part around it;
    /// any other object's payload is counted as text after all.
    /// </summary>
    private static long Close(Frame[] frames, int index, string model)
    {
        var frame = frames[index];
        switch (frame.Kind)
        {
            case Media.Image:
                var (high, low) = MediaTokenBounds.Image(model);
                return frame.LowDetail && !frame.OtherDetail ? low : high;
            case Media.Audio:
                return MediaTokenBounds.Audio(frame.Payload);
            case Media.File:
                return MediaTokenBounds.File(model);
        }
        if (frame.Owner != Owner.Other && index > 0)
        {
            ref var part = ref frames[index - 1];
            part.Payload += frame.Payload;
            part.LowDetail |= frame.LowDetail;
            part.OtherDetail |= frame.OtherDetail;
            return 0;
        }
        return frame.Payload;
    }
}
