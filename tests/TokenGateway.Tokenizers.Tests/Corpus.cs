using System.Text.Json;

namespace TokenGateway.Tokenizers.Tests;

/// <summary>
/// The committed corpus and the ids tiktoken@1.0.22 produced for it
/// (tools/tokenizer-corpus/generate-expected.mjs).
/// </summary>
internal static class Corpus
{
    public static readonly string[] Encodings = ["o200k_base", "cl100k_base"];

    private static readonly string s_directory = Path.Combine(AppContext.BaseDirectory, "Corpus");

    private static readonly Lazy<Dictionary<string, Dictionary<string, int[]>>> s_expected = new(() =>
        Encodings.ToDictionary(e => e, e =>
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(s_directory, "expected", e + ".json")));
            return doc.RootElement.GetProperty("files").EnumerateObject()
                .ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(v => v.GetInt32()).ToArray());
        }));

    public static IEnumerable<string> FileNames =>
        Directory.EnumerateFiles(s_directory, "*.txt").Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    public static string Read(string fileName) => File.ReadAllText(Path.Combine(s_directory, fileName));

    public static int[] Expected(string encoding, string fileName) =>
        s_expected.Value[encoding].TryGetValue(fileName, out int[]? ids)
            ? ids
            : throw new InvalidOperationException($"No expected ids for {fileName}; run tools/tokenizer-corpus/generate-expected.mjs.");

    public static TheoryData<string, string> EncodingAndFile()
    {
        var data = new TheoryData<string, string>();
        foreach (string encoding in Encodings)
        {
            foreach (string file in FileNames)
            {
                data.Add(encoding, file);
            }
        }

        return data;
    }
}
