using System.Text;
using TokenGateway.Tokenizers.Bpe;

namespace TokenGateway.Tokenizers.Tests.Bpe;

public sealed class BytePairEncoderTests
{
    public static TheoryData<string> Encodings => new(Corpus.Encodings);

    [Theory]
    [MemberData(nameof(Encodings))]
    public void EncodeByHeap_CorpusPieces_MatchesTiktokenScan(string encoding)
    {
        var tokenizer = TiktokenTokenizer.CreateForEncoding(encoding);
        RankTable ranks = RanksOf(tokenizer);
        int compared = 0;
        foreach (string file in Corpus.FileNames)
        {
            string text = Corpus.Read(file);
            for (int start = 0; start < text.Length;)
            {
                int end = tokenizer.PreTokenizer.MatchEnd(text, start);
                byte[] piece = Encoding.UTF8.GetBytes(text[start..end]);
                start = end;
                if (piece.Length >= 2)
                {
                    AssertSame(ranks, piece);
                    compared++;
                }
            }
        }

        Assert.True(compared > 5000, $"only {compared} pieces compared");
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void EncodeByHeap_RandomBytes_MatchesTiktokenScan(string encoding)
    {
        RankTable ranks = RanksOf(TiktokenTokenizer.CreateForEncoding(encoding));
        var random = new Random(7);

        // Skewed towards ASCII letters and spaces so merges happen, with arbitrary bytes mixed in.
        byte[] alphabet = Encoding.ASCII.GetBytes("etaoinshrdlu     eeettthhh\n\t0123");
        for (int i = 0; i < 400; i++)
        {
            var piece = new byte[random.Next(2, 600)];
            for (int j = 0; j < piece.Length; j++)
            {
                piece[j] = random.Next(8) == 0 ? (byte)random.Next(256) : alphabet[random.Next(alphabet.Length)];
            }

            AssertSame(ranks, piece);
        }
    }

    [Fact]
    public void Encode_LongPieceWithoutSpaces_IsFastAndExact()
    {
        var tokenizer = TiktokenTokenizer.CreateForEncoding("o200k_base");
        string text = string.Concat(Enumerable.Repeat("tokenization", 20_000)); // one 240 KB piece

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        int count = tokenizer.CountTokens(text);
        stopwatch.Stop();

        Assert.Equal(text, tokenizer.Decode(tokenizer.EncodeToIds(text)));
        Assert.InRange(count, 20_000, 80_000);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
    }

    private static void AssertSame(RankTable ranks, byte[] piece)
    {
        var scan = new List<int>();
        var heap = new List<int>();
        int scanCount = BytePairEncoder.EncodeByScan(piece, ranks, scan);
        int heapCount = BytePairEncoder.EncodeByHeap(piece, ranks, heap);
        Assert.Equal(scan, heap);
        Assert.Equal(scan.Count, scanCount);
        Assert.Equal(heap.Count, heapCount);
    }

    private static RankTable RanksOf(TiktokenTokenizer tokenizer) => tokenizer.Ranks;
}
