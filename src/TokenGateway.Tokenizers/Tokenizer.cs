namespace TokenGateway.Tokenizers;

/// <summary>
/// A text tokenizer. The member names follow <c>Microsoft.ML.Tokenizers.Tokenizer</c> so callers can
/// switch to that package later without rewriting call sites.
/// </summary>
public abstract class Tokenizer
{
    /// <summary>Counts the tokens of <paramref name="text"/> without materializing the ids.</summary>
    public virtual int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return CountTokens(text.AsSpan());
    }

    /// <summary>Counts the tokens of <paramref name="text"/> without materializing the ids.</summary>
    public abstract int CountTokens(ReadOnlySpan<char> text);

    /// <summary>Encodes <paramref name="text"/> to token ids.</summary>
    public virtual IReadOnlyList<int> EncodeToIds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EncodeToIds(text.AsSpan());
    }

    /// <summary>Encodes <paramref name="text"/> to token ids.</summary>
    public abstract IReadOnlyList<int> EncodeToIds(ReadOnlySpan<char> text);

    /// <summary>
    /// Decodes token ids back to text. Byte sequences that are not valid UTF-8 on their own (a token
    /// list cut in the middle of a character) decode to U+FFFD.
    /// </summary>
    public abstract string Decode(IEnumerable<int> ids);
}
