using System.Text;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// One kind of request the load runs send: its body (also written to a file, which wrk's script reads), streaming or
/// not, and the connection counts it runs at.
/// </summary>
internal sealed record BenchCase(string Name, string Title, bool Stream, string Body, string BodyFile, int[] Connections)
{
    public string Marker => ChatRequest.CompleteMarker(Stream);

    /// <summary>The cases named in <paramref name="options"/>, in the order of the report, their bodies written under <paramref name="dir"/>.</summary>
    public static List<BenchCase> Create(ProxyBenchmarkOptions options, string dir)
    {
        var cases = new List<BenchCase>();
        void Add(string name, string title, bool stream, string prompt, int[] connections)
        {
            if (!options.Cases.Contains(name)) return;
            var body = ChatRequest.Body(stream, prompt);
            var file = Path.Combine(dir, name + ".json");
            File.WriteAllText(file, body);
            cases.Add(new BenchCase(name, title, stream, body, file, connections));
        }
        Add("small", "Non-streaming chat completions, short prompt", false, ChatRequest.ShortPrompt, options.Connections);
        Add("stream", "Streaming chat completions, short prompt", true, ChatRequest.ShortPrompt, options.Connections);
        Add("8k", "Non-streaming, 8 KB prompt of English prose", false, Prose(8 * 1024), [options.LargeConnections]);
        Add("64k", "Non-streaming, 64 KB prompt of English prose", false, Prose(64 * 1024), [options.LargeConnections]);
        return cases;
    }

    /// <summary>
    /// At most <paramref name="bytes"/> UTF-8 bytes of the tokenizer corpus's English prose (a short story, repeated as
    /// needed), cut after a word, so that a large prompt reads like one and not like a repeated letter.
    /// </summary>
    private static string Prose(int bytes)
    {
        var story = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Corpus", "english-prose.txt")).Trim();
        var text = new StringBuilder();
        while (Encoding.UTF8.GetByteCount(text.ToString()) < bytes) text.Append(story).Append("\n\n");
        var all = text.ToString();
        var cut = all.Length;
        while (Encoding.UTF8.GetByteCount(all.AsSpan(0, cut)) > bytes) cut = all.LastIndexOf(' ', cut - 1);
        return all[..cut];
    }
}
