namespace TokenGateway.Tokenizers.PreTokenization;

/// <summary>
/// Hand-written equivalent of cl100k_base's pattern:
/// <code>
/// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
/// </code>
/// </summary>
internal sealed class Cl100kPreTokenizer : PreTokenizer
{
    public static readonly Cl100kPreTokenizer Instance = new();

    public override int MatchEnd(ReadOnlySpan<char> text, int start)
    {
        int end;
        if (text[start] == '\'' && (end = MatchContraction(text, start)) > start)
        {
            return end;
        }

        CharFlags first = CharClass.Get(text, start, out int firstWidth);
        int next = start + firstWidth;
        bool prefixable = (first & (CharFlags.Letter | CharFlags.Number | CharFlags.NewLine)) == 0;
        if (prefixable && next < text.Length && (CharClass.Get(text, next, out _) & CharFlags.Letter) != 0)
        {
            return MatchLetters(text, next);
        }

        if ((first & CharFlags.Letter) != 0)
        {
            return MatchLetters(text, start);
        }

        if ((first & CharFlags.Number) != 0)
        {
            return MatchNumbers(text, start);
        }

        if ((end = MatchPunctuation(text, start, first, firstWidth, slashToo: false)) >= 0)
        {
            return end;
        }

        if ((first & CharFlags.WhiteSpace) != 0)
        {
            return MatchWhiteSpace(text, start);
        }

        return next;
    }

    private static int MatchLetters(ReadOnlySpan<char> text, int index)
    {
        while (index < text.Length && (CharClass.Get(text, index, out int width) & CharFlags.Letter) != 0)
        {
            index += width;
        }

        return index;
    }
}
