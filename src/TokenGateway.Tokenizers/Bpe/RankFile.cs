using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace TokenGateway.Tokenizers.Bpe;

/// <summary>
/// Reads the embedded <c>Data/&lt;encoding&gt;.tgbpe.br</c> resources written by
/// tools/tokenizer-corpus/convert-ranks.mjs (layout documented there).
/// </summary>
internal sealed class RankFile
{
    private RankFile(RankTable ranks, IReadOnlyDictionary<string, int> specialTokens, string pattern)
    {
        Ranks = ranks;
        SpecialTokens = specialTokens;
        Pattern = pattern;
    }

    public RankTable Ranks { get; }

    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>tiktoken's <c>pat_str</c>; the hand-written pre-tokenizers are tested against it.</summary>
    public string Pattern { get; }

    public static RankFile LoadEmbedded(string encodingName)
    {
        string resource = $"TokenGateway.Tokenizers.Data.{encodingName}.tgbpe.br";
        using Stream compressed = typeof(RankFile).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded resource '{resource}' is missing.");
        using var brotli = new BrotliStream(compressed, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        brotli.CopyTo(raw);
        return Parse(raw.GetBuffer().AsSpan(0, (int)raw.Length));
    }

    internal static RankFile Parse(ReadOnlySpan<byte> data)
    {
        var reader = new Reader(data);
        if (!reader.Bytes(5).SequenceEqual("TGBPE"u8) || reader.Byte() != 1)
        {
            throw new InvalidDataException("Not a version 1 TGBPE rank file.");
        }

        int count = checked((int)reader.UInt32());
        var offsets = new int[count + 1];
        var blob = new byte[data.Length]; // upper bound; the blob is smaller than the file
        int used = 0;
        for (int rank = 0; rank < count; rank++)
        {
            ReadOnlySpan<byte> token = reader.Bytes(reader.Byte());
            token.CopyTo(blob.AsSpan(used));
            used += token.Length;
            offsets[rank + 1] = used;
        }

        Array.Resize(ref blob, used);
        int specialCount = checked((int)reader.UInt32());
        var specials = new Dictionary<string, int>(specialCount, StringComparer.Ordinal);
        for (int i = 0; i < specialCount; i++)
        {
            string text = Encoding.UTF8.GetString(reader.Bytes(reader.Byte()));
            specials.Add(text, checked((int)reader.UInt32()));
        }

        string pattern = Encoding.UTF8.GetString(reader.Bytes(reader.UInt16()));
        return new RankFile(new RankTable(blob, offsets), specials, pattern);
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position;

        public ReadOnlySpan<byte> Bytes(int length)
        {
            ReadOnlySpan<byte> slice = _data.Slice(_position, length);
            _position += length;
            return slice;
        }

        public byte Byte() => Bytes(1)[0];

        public ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2));

        public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4));
    }
}
