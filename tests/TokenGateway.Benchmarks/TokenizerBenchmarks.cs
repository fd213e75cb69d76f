using System.Text;
using System.Text.RegularExpressions;
using BenchmarkDotNet.Attributes;
using TokenGateway.Tokenizers;

namespace TokenGateway.Benchmarks;

/// <summary>
/// CountTokens over ~20 KB of English prose and ~20 KB of code (C#, Python, JavaScript), both
/// encodings. Inputs are built from the committed tokenizer test corpus. Throughput in MB/s is
/// <see cref="TextBytes"/> (UTF-8) divided by the mean time; docs/benchmarks/tokenizer.md has the figures.
/// </summary>
[MemoryDiagnoser]
public class TokenizerBenchmarks
{
    private const int TargetChars = 20 * 1024;

    private TiktokenTokenizer _tokenizer = null!;
    private string _text = null!;
    private Regex _regex = null!;

    [Params("o200k_base", "cl100k_base")]
    public string Encoding { get; set; } = "o200k_base";

    [Params("english", "code")]
    public string Input { get; set; } = "english";

    /// <summary>UTF-8 size of the input, for MB/s.</summary>
    public int TextBytes => System.Text.Encoding.UTF8.GetByteCount(_text);

    [GlobalSetup]
    public void Setup()
    {
        _tokenizer = TiktokenTokenizer.CreateForEncoding(Encoding);
        _text = Input switch
        {
            "english" => BuildInput("english-prose.txt"),
            "code" => BuildInput("code-csharp.txt", "code-python.txt", "code-javascript.txt"),
            _ => throw new ArgumentException(Input),
        };

        _regex = new Regex(_tokenizer.Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

        // Warm the rank table before measuring.
        _tokenizer.CountTokens(_text);
        Console.WriteLine($"// {Encoding}/{Input}: {_text.Length} chars, {TextBytes} UTF-8 bytes, {_tokenizer.CountTokens(_text)} tokens");
    }

    [Benchmark(Baseline = true)]
    public int CountTokens() => _tokenizer.CountTokens(_text);

    /// <summary>
    /// The same merge code behind .NET's compiled <see cref="Regex"/> running tiktoken's pat_str, to
    /// show what the hand-written pre-tokenizer buys. (Not exact for astral letters; timing only.)
    /// </summary>
    [Benchmark]
    public int CountTokensWithRegexPreTokenizer()
    {
        int count = 0;
        ReadOnlySpan<char> text = _text;
        foreach (ValueMatch match in _regex.EnumerateMatches(text))
        {
            count += _tokenizer.CountPieceTokens(text.Slice(match.Index, match.Length));
        }

        return count;
    }

    /// <summary>Repeats the corpus files and cuts at a line boundary near <see cref="TargetChars"/>.</summary>
    internal static string BuildInput(params string[] files)
    {
        string directory = Path.Combine(AppContext.BaseDirectory, "Corpus");
        string all = string.Concat(files.Select(f => File.ReadAllText(Path.Combine(directory, f)) + "\n"));
        var builder = new StringBuilder(TargetChars + all.Length);
        while (builder.Length < TargetChars)
        {
            builder.Append(all);
        }

        string text = builder.ToString();
        int cut = text.LastIndexOf('\n', TargetChars);
        return text[..(cut > 0 ? cut + 1 : TargetChars)];
    }
}
