using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using TokenGateway.Tokenizers.Bpe;
using TokenGateway.Tokenizers.PreTokenization;

namespace TokenGateway.Tokenizers;

/// <summary>
/// A tiktoken-exact BPE tokenizer for <c>o200k_base</c> and <c>cl100k_base</c>. Instances are
/// process-wide singletons, immutable and safe to share between threads.
/// </summary>
/// <remarks>
/// Special tokens such as <c>&lt;|endoftext|&gt;</c> that appear in the input are encoded as ordinary
/// text (tiktoken's <c>encode_ordinary</c>): the input is untrusted user text to be counted, and a
/// user typing a control token must not be able to change the count. Lone surrogates are encoded as
/// U+FFFD, which is what tiktoken sees when it receives such a string from JavaScript.
/// </remarks>
public sealed class TiktokenTokenizer : Tokenizer
{
    private const int StackBufferBytes = 512;

    private static readonly Lazy<TiktokenTokenizer> s_o200k = new(() => Load(ModelEncodings.O200kBase, O200kPreTokenizer.Instance));
    private static readonly Lazy<TiktokenTokenizer> s_cl100k = new(() => Load(ModelEncodings.Cl100kBase, Cl100kPreTokenizer.Instance));

    private readonly RankTable _ranks;
    private readonly PreTokenizer _preTokenizer;
    private readonly Dictionary<int, string> _specialTokensById;

    private TiktokenTokenizer(string encodingName, RankFile file, PreTokenizer preTokenizer)
    {
        EncodingName = encodingName;
        _ranks = file.Ranks;
        _preTokenizer = preTokenizer;
        SpecialTokens = file.SpecialTokens;
        Pattern = file.Pattern;
        _specialTokensById = file.SpecialTokens.ToDictionary(pair => pair.Value, pair => pair.Key);
    }

    /// <summary><c>o200k_base</c> or <c>cl100k_base</c>.</summary>
    public string EncodingName { get; }

    /// <summary>Special tokens of the encoding (text → id). They are decoded, never produced by encoding.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>Number of ordinary (byte-pair) tokens: ids 0..<c>OrdinaryTokenCount</c>-1.</summary>
    public int OrdinaryTokenCount => _ranks.Count;

    /// <summary>tiktoken's pre-tokenizer regex (<c>pat_str</c>) for this encoding, for reference.</summary>
    public string Pattern { get; }

    internal PreTokenizer PreTokenizer => _preTokenizer;

    internal RankTable Ranks => _ranks;

    /// <summary>The shared tokenizer for a model name; see <see cref="EncodingForModel"/>.</summary>
    public static TiktokenTokenizer CreateForModel(string modelName) => CreateForEncoding(EncodingForModel(modelName));

    /// <summary>The shared tokenizer for <c>"o200k_base"</c> or <c>"cl100k_base"</c>; ranks load on first use.</summary>
    public static TiktokenTokenizer CreateForEncoding(string encodingName)
    {
        ArgumentNullException.ThrowIfNull(encodingName);
        return encodingName.ToLowerInvariant() switch
        {
            ModelEncodings.O200kBase => s_o200k.Value,
            ModelEncodings.Cl100kBase => s_cl100k.Value,
            _ => throw new ArgumentException($"Unsupported encoding '{encodingName}'; expected o200k_base or cl100k_base.", nameof(encodingName)),
        };
    }

    /// <summary>
    /// The encoding of an OpenAI model name: o200k_base for gpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, o1*,
    /// o3*, o4*, chatgpt-4o*, gpt-oss*, omni-moderation*, computer-use*; cl100k_base for gpt-4 (other),
    /// gpt-3.5*, gpt-35*, text-embedding-3-*, text-embedding-ada-002, davinci-002, babbage-002.
    /// Prefix match, case-insensitive; <c>ft:</c> and provider prefixes (<c>openai/</c>) are ignored.
    /// Unknown models get o200k_base, the encoding of the newest model families.
    /// </summary>
    public static string EncodingForModel(string model) => ModelEncodings.ForModel(model);

    public override int CountTokens(ReadOnlySpan<char> text) => Encode(text, ids: null);

    public override IReadOnlyList<int> EncodeToIds(ReadOnlySpan<char> text)
    {
        // NOTE: English averages ~4 UTF-8 bytes per token; start a little above that guess.
        var ids = new List<int>(text.Length / 3 + 4);
        Encode(text, ids);
        return ids;
    }

    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new ArrayBufferWriter<byte>();
        foreach (int id in ids)
        {
            if ((uint)id < (uint)_ranks.Count)
            {
                bytes.Write(_ranks.GetBytes(id));
            }
            else if (_specialTokensById.TryGetValue(id, out string? special))
            {
                bytes.Write(Encoding.UTF8.GetBytes(special));
            }
            else
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is not in {EncodingName}.");
            }
        }

        return Encoding.UTF8.GetString(bytes.WrittenSpan);
    }

    private int Encode(ReadOnlySpan<char> text, List<int>? ids)
    {
        Span<byte> stackBuffer = stackalloc byte[StackBufferBytes];
        byte[]? rented = null;
        int count = 0;
        int start = 0;
        while (start < text.Length)
        {
            int end = _preTokenizer.MatchEnd(text, start);
            ReadOnlySpan<char> piece = text[start..end];
            start = end;

            Span<byte> buffer = stackBuffer;
            if (piece.Length * 3 > StackBufferBytes)
            {
                // Long pieces are rare (runs of spaces, very long words); keep the largest rented buffer.
                if (rented is null || rented.Length < piece.Length * 3)
                {
                    if (rented is not null)
                    {
                        ArrayPool<byte>.Shared.Return(rented);
                    }

                    rented = ArrayPool<byte>.Shared.Rent(piece.Length * 3);
                }

                buffer = rented;
            }

            ReadOnlySpan<byte> utf8 = buffer[..ToUtf8(piece, buffer)];
            int rank = _ranks.Lookup(utf8);
            if (rank >= 0)
            {
                ids?.Add(rank);
                count++;
            }
            else
            {
                count += BytePairEncoder.Encode(utf8, _ranks, ids);
            }
        }

        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ToUtf8(ReadOnlySpan<char> piece, Span<byte> destination)
    {
        // Pieces are short; a plain loop beats the transcoder's setup for ASCII.
        for (int i = 0; i < piece.Length; i++)
        {
            char c = piece[i];
            if (c >= 0x80)
            {
                // Invalid UTF-16 (lone surrogates) becomes U+FFFD, as in tiktoken's JavaScript binding.
                return Encoding.UTF8.GetBytes(piece, destination);
            }

            destination[i] = (byte)c;
        }

        return piece.Length;
    }

    /// <summary>
    /// Tokens of one pre-tokenized piece. Lets the benchmarks measure a <c>Regex</c> pre-tokenizer
    /// against the hand-written one with the same merge code.
    /// </summary>
    internal int CountPieceTokens(ReadOnlySpan<char> piece)
    {
        Span<byte> buffer = piece.Length * 3 <= StackBufferBytes ? stackalloc byte[StackBufferBytes] : new byte[piece.Length * 3];
        ReadOnlySpan<byte> utf8 = buffer[..ToUtf8(piece, buffer)];
        return _ranks.Lookup(utf8) >= 0 ? 1 : BytePairEncoder.Encode(utf8, _ranks, ids: null);
    }

    private static TiktokenTokenizer Load(string encodingName, PreTokenizer preTokenizer) =>
        new(encodingName, RankFile.LoadEmbedded(encodingName), preTokenizer);
}
