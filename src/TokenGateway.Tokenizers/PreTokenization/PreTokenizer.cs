namespace TokenGateway.Tokenizers.PreTokenization;

/// <summary>
/// Splits text into the pieces tiktoken's <c>pat_str</c> regex finds (leftmost-first alternation,
/// greedy quantifiers with backtracking), without a regex engine and without allocating.
/// </summary>
internal abstract class PreTokenizer
{
    /// <summary>
    /// End (exclusive) of the piece that starts at <paramref name="start"/>. Every character starts
    /// some alternative of both patterns, so pieces tile the text.
    /// </summary>
    public abstract int MatchEnd(ReadOnlySpan<char> text, int start);

    /// <summary>
    /// <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)</c> at <paramref name="index"/>: the index after the contraction,
    /// or <paramref name="index"/> if none. Case-insensitive matching uses Unicode simple case folding,
    /// as the Rust regex crate does, so U+017F LATIN SMALL LETTER LONG S matches <c>s</c>.
    /// </summary>
    protected static int MatchContraction(ReadOnlySpan<char> text, int index)
    {
        if ((uint)(index + 1) >= (uint)text.Length || text[index] != '\'')
        {
            return index;
        }

        switch (Fold(text[index + 1]))
        {
            case 's' or 't' or 'm' or 'd':
                return index + 2;
            case 'r' or 'v' when index + 2 < text.Length && Fold(text[index + 2]) == 'e':
                return index + 3;
            case 'l' when index + 2 < text.Length && Fold(text[index + 2]) == 'l':
                return index + 3;
            default:
                return index;
        }

        static char Fold(char c) => c switch
        {
            >= 'A' and <= 'Z' => (char)(c | 0x20),
            '\u017F' => 's',
            _ => c,
        };
    }

    /// <summary><c>\p{N}{1,3}</c> at <paramref name="index"/>, whose first code point is a number.</summary>
    protected static int MatchNumbers(ReadOnlySpan<char> text, int index)
    {
        CharClass.Get(text, index, out int width);
        index += width;
        for (int n = 1; n < 3 && index < text.Length; n++)
        {
            if ((CharClass.Get(text, index, out width) & CharFlags.Number) == 0)
            {
                break;
            }

            index += width;
        }

        return index;
    }

    /// <summary>
    /// <c>\s*[\r\n]+|\s+(?!\S)|\s+</c> at <paramref name="index"/>, whose character is white space.
    /// </summary>
    protected static int MatchWhiteSpace(ReadOnlySpan<char> text, int index)
    {
        int start = index;
        int lastNewLine = -1;
        while (index < text.Length)
        {
            char c = text[index];
            CharFlags flags = CharClass.Get(c);
            if ((flags & CharFlags.WhiteSpace) == 0)
            {
                break;
            }

            if ((flags & CharFlags.NewLine) != 0)
            {
                lastNewLine = index;
            }

            index++;
        }

        // \s*[\r\n]+ : \s* backtracks until [\r\n]+ can match; that is the last newline of the run.
        if (lastNewLine >= 0)
        {
            return lastNewLine + 1;
        }

        // \s+(?!\S) : the whole run at the end of the text, else the run minus its last character
        // (which then starts the next piece, e.g. the space of " word").
        if (index == text.Length)
        {
            return index;
        }

        return index - start >= 2 ? index - 1 : index;
    }

    /// <summary>
    /// <c> ?[^\s\p{L}\p{N}]+</c> followed by <c>[extra]*</c>, or -1. Returns the end index.
    /// </summary>
    protected static int MatchPunctuation(ReadOnlySpan<char> text, int index, CharFlags first, int firstWidth, bool slashToo)
    {
        const CharFlags NotOther = CharFlags.Letter | CharFlags.Number | CharFlags.WhiteSpace;
        int i;
        if (text[index] == ' ' && index + 1 < text.Length && (CharClass.Get(text, index + 1, out int w) & NotOther) == 0)
        {
            i = index + 1 + w;
        }
        else if ((first & NotOther) == 0)
        {
            i = index + firstWidth;
        }
        else
        {
            return -1;
        }

        while (i < text.Length)
        {
            if ((CharClass.Get(text, i, out int width) & NotOther) != 0)
            {
                break;
            }

            i += width;
        }

        while (i < text.Length && (text[i] is '\r' or '\n' || (slashToo && text[i] == '/')))
        {
            i++;
        }

        return i;
    }
}
