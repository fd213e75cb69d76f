namespace TokenGateway.Tokenizers.Tests;

public sealed class CorpusTests
{
    public static TheoryData<string, string> Cases => Corpus.EncodingAndFile();

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncodeToIds_CorpusFile_MatchesTiktokenExactly(string encoding, string file)
    {
        var tokenizer = TiktokenTokenizer.CreateForEncoding(encoding);
        string text = Corpus.Read(file);
        int[] expected = Corpus.Expected(encoding, file);

        IReadOnlyList<int> actual = tokenizer.EncodeToIds(text);

        int mismatch = FirstMismatch(expected, actual);
        if (mismatch >= 0)
        {
            string Window(IReadOnlyList<int> ids) => string.Join(",", ids.Skip(Math.Max(0, mismatch - 3)).Take(8));
            string context = tokenizer.Decode(expected.Take(mismatch));
            Assert.Fail(
                $"{file}/{encoding}: first difference at id #{mismatch} (expected {expected.Length} ids, got {actual.Count}).\n" +
                $"expected …{Window(expected)}…\nactual   …{Window(actual)}…\n" +
                $"text before: {Escape(context[Math.Max(0, context.Length - 40)..])}\n" +
                $"expected next: {Escape(tokenizer.Decode(expected.Skip(mismatch).Take(4)))}\n" +
                $"actual next:   {Escape(tokenizer.Decode(actual.Skip(mismatch).Take(4)))}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CountTokens_CorpusFile_EqualsExpectedIdCount(string encoding, string file)
    {
        var tokenizer = TiktokenTokenizer.CreateForEncoding(encoding);
        string text = Corpus.Read(file);
        int expected = Corpus.Expected(encoding, file).Length;

        Assert.Equal(expected, tokenizer.CountTokens(text));
        Assert.Equal(expected, tokenizer.CountTokens(text.AsSpan()));
        Assert.Equal(expected, tokenizer.EncodeToIds(text).Count);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decode_EncodedCorpusFile_RoundTrips(string encoding, string file)
    {
        var tokenizer = TiktokenTokenizer.CreateForEncoding(encoding);
        string text = Corpus.Read(file);

        Assert.Equal(text, tokenizer.Decode(tokenizer.EncodeToIds(text)));
    }

    [Fact]
    public void Corpus_EveryFile_HasExpectedIdsForBothEncodings()
    {
        foreach (string encoding in Corpus.Encodings)
        {
            foreach (string file in Corpus.FileNames)
            {
                Assert.NotEmpty(Corpus.Expected(encoding, file));
            }
        }
    }

    /// <summary>The first index where the ids differ, or -1 when they are equal (also used by the differential test).</summary>
    internal static int FirstMismatch(int[] expected, IReadOnlyList<int> actual)
    {
        int n = Math.Min(expected.Length, actual.Count);
        for (int i = 0; i < n; i++)
        {
            if (expected[i] != actual[i])
            {
                return i;
            }
        }

        return expected.Length == actual.Count ? -1 : n;
    }

    private static string Escape(string s) =>
        string.Concat(s.Select(c => c < 0x20 || c is > '~' and < '\u00a1' ? $"\\u{(int)c:x4}" : c.ToString()));
}
