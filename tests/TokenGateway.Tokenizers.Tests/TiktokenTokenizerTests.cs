namespace TokenGateway.Tokenizers.Tests;

public sealed class TiktokenTokenizerTests
{
    private static readonly TiktokenTokenizer s_o200k = TiktokenTokenizer.CreateForEncoding("o200k_base");
    private static readonly TiktokenTokenizer s_cl100k = TiktokenTokenizer.CreateForEncoding("cl100k_base");

    [Fact]
    public void EncodeToIds_HelloWorld_MatchesTiktoken()
    {
        Assert.Equal([24912, 2375], s_o200k.EncodeToIds("hello world"));
        Assert.Equal([15339, 1917], s_cl100k.EncodeToIds("hello world"));
    }

    [Fact]
    public void EncodeToIds_SpecialTokenText_IsEncodedAsOrdinaryText()
    {
        Assert.Equal([27, 91, 419, 1440, 919, 91, 29], s_o200k.EncodeToIds("<|endoftext|>"));
        Assert.Equal([27, 91, 8862, 728, 428, 91, 29], s_cl100k.EncodeToIds("<|endoftext|>"));
        Assert.DoesNotContain(s_o200k.SpecialTokens["<|endoftext|>"], s_o200k.EncodeToIds("a<|endoftext|>b"));
    }

    [Fact]
    public void EncodeToIds_LoneSurrogate_EncodesAsReplacementCharacter()
    {
        // tiktoken@1.0.22 gives [64, 3251, 65] (o200k) and [64, 5809, 65] (cl100k) for both strings.
        Assert.Equal([64, 3251, 65], s_o200k.EncodeToIds("a\ud800b"));
        Assert.Equal([64, 3251, 65], s_o200k.EncodeToIds("a\ufffdb"));
        Assert.Equal([64, 5809, 65], s_cl100k.EncodeToIds("a\udc00b"));
        Assert.Equal(3, s_o200k.CountTokens("a\ud800b".AsSpan()));
    }

    [Fact]
    public void CountTokens_EmptyText_IsZero()
    {
        Assert.Equal(0, s_o200k.CountTokens(string.Empty));
        Assert.Equal(0, s_cl100k.CountTokens(ReadOnlySpan<char>.Empty));
        Assert.Empty(s_o200k.EncodeToIds(string.Empty));
        Assert.Equal(string.Empty, s_o200k.Decode([]));
    }

    [Fact]
    public void CountTokens_Null_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => s_o200k.CountTokens((string)null!));
        Assert.Throws<ArgumentNullException>(() => s_o200k.EncodeToIds((string)null!));
    }

    [Fact]
    public void CountTokens_SpanSlice_CountsOnlyTheSlice()
    {
        string text = "ignored prefix|hello world|ignored suffix";
        Assert.Equal(2, s_o200k.CountTokens(text.AsSpan(15, 11)));
    }

    [Fact]
    public void Decode_SpecialTokenId_ReturnsItsText()
    {
        Assert.Equal("x<|endoftext|>", s_o200k.Decode([87, 199999]));
        Assert.Equal("<|fim_middle|>", s_cl100k.Decode([100259]));
    }

    [Fact]
    public void Decode_UnknownId_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => s_o200k.Decode([-1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => s_cl100k.Decode([100256]));
    }

    [Fact]
    public void Decode_SplitMultiByteCharacter_ProducesReplacementCharacter()
    {
        IReadOnlyList<int> ids = s_cl100k.EncodeToIds("😀");
        Assert.True(ids.Count > 1);
        Assert.Contains('\ufffd', s_cl100k.Decode(ids.Take(1)));
    }

    [Fact]
    public void CreateForEncoding_UnknownName_Throws()
    {
        Assert.Throws<ArgumentException>(() => TiktokenTokenizer.CreateForEncoding("p50k_base"));
    }

    [Fact]
    public void CreateForEncoding_IsCaseInsensitiveSingleton()
    {
        Assert.Same(s_o200k, TiktokenTokenizer.CreateForEncoding("O200K_BASE"));
        Assert.Equal("o200k_base", s_o200k.EncodingName);
        Assert.Equal(199_998, s_o200k.OrdinaryTokenCount);
        Assert.Equal(100_256, s_cl100k.OrdinaryTokenCount);
    }

    [Fact]
    public void CountTokens_ManyThreads_AgreesWithSingleThread()
    {
        string text = Corpus.Read("english-prose.txt") + Corpus.Read("random-unicode.txt");
        int expected = s_o200k.CountTokens(text);
        var counts = new int[64];
        Parallel.For(0, counts.Length, i => counts[i] = TiktokenTokenizer.CreateForModel("gpt-4o").CountTokens(text));
        Assert.All(counts, c => Assert.Equal(expected, c));
    }

    [Fact]
    public void Pattern_IsTiktokensPatStr()
    {
        // The hand-written pre-tokenizers implement exactly these patterns; a new table version with a
        // different pattern must fail here rather than tokenize silently differently.
        Assert.Equal(
            @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            s_o200k.Pattern);
        Assert.Equal(
            @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            s_cl100k.Pattern);
    }
}
