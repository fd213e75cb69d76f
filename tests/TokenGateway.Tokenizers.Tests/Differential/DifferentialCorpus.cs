using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace TokenGateway.Tokenizers.Tests.Differential;

/// <summary>One generated text and the category it was generated for.</summary>
internal sealed record DifferentialText(int Index, string Category, string Text);

/// <summary>
/// The generated differential corpus (tools/tokenizer-corpus/generate-differential.mjs): a few thousand
/// texts and the ids tiktoken@1.0.22's <c>encode_ordinary</c> gave each of them, per encoding. The layout
/// is documented at the top of the script.
/// </summary>
internal sealed class DifferentialCorpus
{
    private static readonly Lazy<DifferentialCorpus> s_instance = new(() =>
        Load(Path.Combine(AppContext.BaseDirectory, "Corpus", "differential", "corpus.tgdiff.br")));

    private DifferentialCorpus(string oracle, string[] categories, DifferentialText[] texts, Dictionary<string, int[][]> ids)
    {
        Oracle = oracle;
        Categories = categories;
        Texts = texts;
        Ids = ids;
    }

    public static DifferentialCorpus Instance => s_instance.Value;

    /// <summary>What produced the ids, e.g. <c>tiktoken@1.0.22 encode_ordinary</c>.</summary>
    public string Oracle { get; }

    public IReadOnlyList<string> Categories { get; }

    public IReadOnlyList<DifferentialText> Texts { get; }

    /// <summary>Encoding name → the expected ids of each text, in text order.</summary>
    public IReadOnlyDictionary<string, int[][]> Ids { get; }

    private static DifferentialCorpus Load(string path)
    {
        byte[] data;
        using (FileStream file = File.OpenRead(path))
        using (var brotli = new BrotliStream(file, CompressionMode.Decompress))
        using (var buffer = new MemoryStream())
        {
            brotli.CopyTo(buffer);
            data = buffer.ToArray();
        }

        var reader = new Reader(data);
        if (Encoding.ASCII.GetString(reader.Bytes(6)) != "TGDIFF" || reader.Byte() != 1)
        {
            throw new InvalidDataException($"{path}: not a version-1 differential corpus");
        }

        string oracle = Encoding.UTF8.GetString(reader.Bytes(reader.UInt16()));
        var categories = new string[reader.Byte()];
        for (int i = 0; i < categories.Length; i++)
        {
            categories[i] = reader.Ascii();
        }

        var texts = new DifferentialText[reader.UInt32()];
        for (int i = 0; i < texts.Length; i++)
        {
            string category = categories[reader.Byte()];
            texts[i] = new DifferentialText(i, category, reader.Utf16(reader.VarInt()));
        }

        var ids = new Dictionary<string, int[][]>();
        int encodings = reader.Byte();
        for (int e = 0; e < encodings; e++)
        {
            string name = reader.Ascii();
            var lists = new int[texts.Length][];
            for (int i = 0; i < texts.Length; i++)
            {
                lists[i] = new int[reader.VarInt()];
                for (int j = 0; j < lists[i].Length; j++)
                {
                    lists[i][j] = reader.VarInt();
                }
            }

            ids.Add(name, lists);
        }

        if (!reader.AtEnd)
        {
            throw new InvalidDataException($"{path}: trailing bytes");
        }

        return new DifferentialCorpus(oracle, categories, texts, ids);
    }

    private sealed class Reader(byte[] data)
    {
        private int _position;

        public bool AtEnd => _position == data.Length;

        public ReadOnlySpan<byte> Bytes(int count)
        {
            ReadOnlySpan<byte> span = data.AsSpan(_position, count);
            _position += count;
            return span;
        }

        public byte Byte() => data[_position++];

        public ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2));

        public int UInt32() => checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4)));

        public string Ascii() => Encoding.ASCII.GetString(Bytes(Byte()));

        public int VarInt()
        {
            int value = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = Byte();
                value |= (b & 0x7f) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }
        }

        /// <summary>
        /// UTF-16 code units copied verbatim: unpaired surrogates must reach the tokenizer as the JavaScript
        /// string had them (<c>Encoding.Unicode.GetString</c> would already replace them with U+FFFD).
        /// </summary>
        public string Utf16(int length)
        {
            ReadOnlySpan<byte> bytes = Bytes(length * 2);
            var chars = new char[length];
            for (int i = 0; i < length; i++)
            {
                chars[i] = (char)BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]);
            }

            return new string(chars);
        }
    }
}
