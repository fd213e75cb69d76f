namespace TokenGateway.Tokenizers;

/// <summary>Which tiktoken encoding an OpenAI model name uses.</summary>
internal static class ModelEncodings
{
    public const string O200kBase = "o200k_base";
    public const string Cl100kBase = "cl100k_base";

    // NOTE: order matters — the first matching prefix wins, so the gpt-4o / gpt-4.1 / gpt-4.5
    // families must come before the plain "gpt-4" prefix.
    private static readonly (string Prefix, string Encoding)[] s_prefixes =
    [
        ("gpt-4o", O200kBase),
        ("gpt-4.1", O200kBase),
        ("gpt-4.5", O200kBase),
        ("gpt-5", O200kBase),
        ("chatgpt-4o", O200kBase),
        ("gpt-oss", O200kBase),
        ("omni-moderation", O200kBase),
        ("computer-use", O200kBase),
        ("o1", O200kBase),
        ("o3", O200kBase),
        ("o4", O200kBase),
        ("gpt-4", Cl100kBase),
        ("gpt-3.5", Cl100kBase),
        ("gpt-35", Cl100kBase),
        ("text-embedding-3-", Cl100kBase),
        ("text-embedding-ada-002", Cl100kBase),
        ("davinci-002", Cl100kBase),
        ("babbage-002", Cl100kBase),
    ];

    /// <summary>
    /// The encoding for <paramref name="model"/>. Matching is by prefix (dated snapshots such as
    /// <c>gpt-4o-2024-08-06</c> follow their family), case-insensitive, after removing a fine-tune
    /// <c>ft:</c> prefix and a provider prefix such as <c>openai/</c>.
    /// Unknown names get o200k_base: it is the encoding of every OpenAI model family released since
    /// May 2024, so a model name this table does not know yet is most likely one of those.
    /// </summary>
    public static string ForModel(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        ReadOnlySpan<char> name = model.AsSpan().Trim();
        if (name.StartsWith("ft:", StringComparison.OrdinalIgnoreCase))
        {
            name = name[3..];
        }

        int slash = name.LastIndexOf('/');
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
        }

        foreach ((string prefix, string encoding) in s_prefixes)
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return encoding;
            }
        }

        return O200kBase;
    }
}
