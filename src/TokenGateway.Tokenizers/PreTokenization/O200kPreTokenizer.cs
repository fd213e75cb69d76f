namespace TokenGateway.Tokenizers.PreTokenization;

/// <summary>
/// Hand-written equivalent of o200k_base's pattern:
/// <code>
/// [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
/// </code>
/// Character classes are evaluated per code point (surrogate pairs included), as the Rust regex does.
/// </summary>
internal sealed class O200kPreTokenizer : PreTokenizer
{
    public static readonly O200kPreTokenizer Instance = new();

    public override int MatchEnd(ReadOnlySpan<char> text, int start)
    {
        CharFlags first = CharClass.Get(text, start, out int firstWidth);
        int next = start + firstWidth;

        // [^\r\n\p{L}\p{N}]? is greedy: try with the prefix character first, then without.
        bool prefixable = (first & (CharFlags.Letter | CharFlags.Number | CharFlags.NewLine)) == 0;
        int end;
        if (prefixable && next < text.Length && (end = MatchUpperStarLowerPlus(text, next)) >= 0)
        {
            return end;
        }

        if ((first & (CharFlags.UpperLike | CharFlags.LowerLike)) != 0 && (end = MatchUpperStarLowerPlus(text, start)) >= 0)
        {
            return end;
        }

        if (prefixable && next < text.Length && (CharClass.Get(text, next, out _) & CharFlags.UpperLike) != 0)
        {
            return MatchUpperPlusLowerStar(text, next);
        }

        if ((first & CharFlags.UpperLike) != 0)
        {
            return MatchUpperPlusLowerStar(text, start);
        }

        if ((first & CharFlags.Number) != 0)
        {
            return MatchNumbers(text, start);
        }

        if ((end = MatchPunctuation(text, start, first, firstWidth, slashToo: true)) >= 0)
        {
            return end;
        }

        if ((first & CharFlags.WhiteSpace) != 0)
        {
            return MatchWhiteSpace(text, start);
        }

        return next;
    }

    /// <summary><c>[upper]*[lower]+(?i:contraction)?</c> at <paramref name="index"/>, or -1.</summary>
    private static int MatchUpperStarLowerPlus(ReadOnlySpan<char> text, int index)
    {
        // [upper]* is greedy and backtracks until [lower]+ matches; upper and lower share Lm, Lo and M,
        // so remember the last such code point of the upper run in case the run is not followed by a lower.
        int lastShared = -1;
        int lastSharedWidth = 0;
        CharFlags flags = CharFlags.None;
        int width = 0;
        while (index < text.Length)
        {
            flags = CharClass.Get(text, index, out width);
            if ((flags & CharFlags.UpperLike) == 0)
            {
                break;
            }

            if ((flags & CharFlags.LowerLike) != 0)
            {
                lastShared = index;
                lastSharedWidth = width;
            }

            index += width;
        }

        if (index < text.Length && (flags & CharFlags.LowerLike) != 0)
        {
            index += width;
            while (index < text.Length && (CharClass.Get(text, index, out width) & CharFlags.LowerLike) != 0)
            {
                index += width;
            }
        }
        else if (lastShared >= 0)
        {
            // Everything after lastShared in the run is Lu/Lt, so [lower]+ takes exactly that code point.
            index = lastShared + lastSharedWidth;
        }
        else
        {
            return -1;
        }

        return MatchContraction(text, index);
    }

    /// <summary><c>[upper]+[lower]*(?i:contraction)?</c> at <paramref name="index"/>, whose code point is upper.</summary>
    private static int MatchUpperPlusLowerStar(ReadOnlySpan<char> text, int index)
    {
        while (index < text.Length && (CharClass.Get(text, index, out int width) & CharFlags.UpperLike) != 0)
        {
            index += width;
        }

        while (index < text.Length && (CharClass.Get(text, index, out int width) & CharFlags.LowerLike) != 0)
        {
            index += width;
        }

        return MatchContraction(text, index);
    }
}
