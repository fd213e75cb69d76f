using System.Buffers;
using System.Globalization;
using System.Text;

namespace TokenGateway.Tokenizers.Tests.Differential;

/// <summary>
/// The tokenizer against OpenAI's tiktoken (npm tiktoken@1.0.22, Rust compiled to WASM) on the
/// generated differential corpus: prose in many scripts, code, numbers, whitespace runs, emoji and
/// astral letters, special-token text, lone surrogates and random Unicode. Every text must give the
/// oracle's ids exactly, from both <c>EncodeToIds</c> and <c>CountTokens</c>.
/// </summary>
/// <remarks>
/// Regenerate the corpus with <c>node generate-differential.mjs</c> in tools/tokenizer-corpus. Texts
/// hold unpaired surrogates exactly as the JavaScript strings did; tiktoken's binding and this
/// tokenizer both encode each one as U+FFFD.
/// </remarks>
public sealed class DifferentialTests
{
    private const int ReportedDifferences = 10;

    public static TheoryData<string> Encodings => new(Corpus.Encodings);

    [Fact]
    public void Corpus_HasThousandsOfTextsInEveryCategory_AndIdsForEachEncoding()
    {
        DifferentialCorpus corpus = DifferentialCorpus.Instance;

        Assert.Equal("tiktoken@1.0.22 encode_ordinary", corpus.Oracle);
        Assert.True(corpus.Texts.Count >= 3000, $"only {corpus.Texts.Count} texts");
        Assert.Equal(
            ["english", "multilingual", "code", "numbers", "whitespace", "emoji-astral", "special-tokens", "lone-surrogates",
             "random-unicode", "random-codepoints", "mixed", "long"],
            corpus.Categories);
        foreach (string category in corpus.Categories)
        {
            Assert.Contains(corpus.Texts, t => t.Category == category);
        }

        Assert.True(corpus.Texts.Count(t => t.Category == "lone-surrogates" && !IsWellFormed(t.Text)) >= 200);
        Assert.True(corpus.Texts.Count(t => t.Text.Contains("<|endoftext|>", StringComparison.Ordinal)) >= 50);
        foreach (string encoding in Corpus.Encodings)
        {
            Assert.Equal(corpus.Texts.Count, corpus.Ids[encoding].Length);
        }
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void EncodeToIdsAndCountTokens_EveryGeneratedText_MatchTiktoken(string encoding)
    {
        DifferentialCorpus corpus = DifferentialCorpus.Instance;
        var tokenizer = TiktokenTokenizer.CreateForEncoding(encoding);
        int[][] expectedIds = corpus.Ids[encoding];

        var failures = new List<string>();
        var failuresByCategory = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (DifferentialText text in corpus.Texts)
        {
            int[] expected = expectedIds[text.Index];
            IReadOnlyList<int> actual = tokenizer.EncodeToIds(text.Text);
            int count = tokenizer.CountTokens(text.Text);
            int mismatch = CorpusTests.FirstMismatch(expected, actual);
            if (mismatch < 0 && count == expected.Length)
            {
                continue;
            }

            failuresByCategory[text.Category] = failuresByCategory.GetValueOrDefault(text.Category) + 1;
            if (failures.Count < ReportedDifferences)
            {
                failures.Add(Describe(tokenizer, text, expected, actual, count, mismatch));
            }
        }

        if (failuresByCategory.Count > 0)
        {
            int total = failuresByCategory.Values.Sum();
            Assert.Fail(
                $"{encoding}: {total} of {corpus.Texts.Count} texts differ from {corpus.Oracle} " +
                $"({string.Join(", ", failuresByCategory.Select(p => $"{p.Key} {p.Value}"))}). " +
                $"First {failures.Count}:\n\n{string.Join("\n\n", failures)}");
        }
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Decode_TiktokenIdsOfEveryGeneratedText_GivesTheTextWithLoneSurrogatesAsReplacementCharacters(string encoding)
    {
        DifferentialCorpus corpus = DifferentialCorpus.Instance;
        var tokenizer = TiktokenTokenizer.CreateForEncoding(encoding);

        foreach (DifferentialText text in corpus.Texts)
        {
            string decoded = tokenizer.Decode(corpus.Ids[encoding][text.Index]);
            string wellFormed = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text.Text));
            Assert.True(wellFormed == decoded, $"text #{text.Index} ({text.Category}) decodes to {Escape(decoded, 200)}");
        }
    }

    private static string Describe(TiktokenTokenizer tokenizer, DifferentialText text, int[] expected, IReadOnlyList<int> actual, int count, int mismatch)
    {
        var builder = new StringBuilder();
        builder.Append(CultureInfo.InvariantCulture,
            $"#{text.Index} [{text.Category}] {text.Text.Length} UTF-16 units: {Escape(text.Text, 240)}\n" +
            $"  expected {expected.Length} ids, EncodeToIds gave {actual.Count}, CountTokens gave {count}");
        if (mismatch >= 0)
        {
            int from = Math.Max(0, mismatch - 2);
            builder.Append(CultureInfo.InvariantCulture,
                $"; first difference at id #{mismatch}, after {Escape(Tail(tokenizer.Decode(expected.Take(mismatch)), 40), 80)}\n" +
                $"  expected …{Window(tokenizer, expected, from)}\n" +
                $"  actual   …{Window(tokenizer, actual, from)}");
        }

        return builder.ToString();
    }

    /// <summary>Up to 6 ids from <paramref name="from"/>, each with the text of its bytes.</summary>
    private static string Window(TiktokenTokenizer tokenizer, IReadOnlyList<int> ids, int from) =>
        string.Join(" ", ids.Skip(from).Take(6).Select(id => $"{id}:{Escape(tokenizer.Decode([id]), 40)}"));

    private static string Tail(string s, int chars) => s.Length <= chars ? s : s[^chars..];

    private static bool IsWellFormed(string s) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s)) == s;

    /// <summary>
    /// Quoted, cut after <paramref name="maxChars"/> UTF-16 units; unpaired surrogates, controls, format
    /// characters, marks and non-ASCII spaces as <c>\uXXXX</c> so the failing input can be rebuilt exactly.
    /// </summary>
    internal static string Escape(string s, int maxChars)
    {
        var builder = new StringBuilder("\"");
        int i = 0;
        while (i < s.Length && i < maxChars)
        {
            if (Rune.DecodeFromUtf16(s.AsSpan(i), out Rune rune, out int used) != OperationStatus.Done)
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)s[i]:x4}");
                i++;
                continue;
            }

            bool visible = rune.Value == ' ' || Rune.GetUnicodeCategory(rune) is not (UnicodeCategory.Control or UnicodeCategory.Format
                or UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.SpacingCombiningMark
                or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned);
            if (rune.Value is '"' or '\\')
            {
                builder.Append('\\').Append((char)rune.Value);
            }
            else if (visible)
            {
                builder.Append(s, i, used);
            }
            else
            {
                builder.Append(rune.IsBmp
                    ? string.Create(CultureInfo.InvariantCulture, $"\\u{rune.Value:x4}")
                    : string.Create(CultureInfo.InvariantCulture, $"\\U{rune.Value:x8}"));
            }

            i += used;
        }

        if (i < s.Length)
        {
            builder.Append(CultureInfo.InvariantCulture, $"\"…(+{s.Length - i} more)");
            return builder.ToString();
        }

        return builder.Append('"').ToString();
    }
}
