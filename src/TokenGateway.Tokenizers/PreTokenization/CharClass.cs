using System.Globalization;
using System.Runtime.CompilerServices;

namespace TokenGateway.Tokenizers.PreTokenization;

/// <summary>Classifies code points for the pre-tokenizers: a 64 KB table for the BMP, a category lookup above it.</summary>
internal static class CharClass
{
    private static readonly byte[] s_bmp = BuildBmpTable();

    /// <summary>
    /// Flags of the code point starting at <paramref name="index"/>; <paramref name="width"/> is 2 for a
    /// surrogate pair, else 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CharFlags Get(ReadOnlySpan<char> text, int index, out int width)
    {
        char c = text[index];
        if (!char.IsSurrogate(c))
        {
            width = 1;
            return (CharFlags)s_bmp[c];
        }

        return GetSurrogate(text, index, out width);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CharFlags Get(char c) => (CharFlags)s_bmp[c];

    private static CharFlags GetSurrogate(ReadOnlySpan<char> text, int index, out int width)
    {
        char c = text[index];
        if (char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            width = 2;
            return FromCategory(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, text[index + 1])));
        }

        // NOTE: a lone surrogate becomes U+FFFD when the text is transcoded to UTF-8 (as the tiktoken
        // WASM binding does when it receives a JavaScript string). U+FFFD is a symbol: no flags.
        width = 1;
        return CharFlags.None;
    }

    internal static CharFlags FromCategory(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.TitlecaseLetter => CharFlags.Letter | CharFlags.UpperLike,
        UnicodeCategory.LowercaseLetter => CharFlags.Letter | CharFlags.LowerLike,
        UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharFlags.Letter | CharFlags.UpperLike | CharFlags.LowerLike,
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => CharFlags.UpperLike | CharFlags.LowerLike,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharFlags.Number,
        _ => CharFlags.None,
    };

    /// <summary>The Unicode White_Space property; every member is in the BMP.</summary>
    internal static bool IsWhiteSpaceProperty(int c) =>
        c is (>= 0x09 and <= 0x0D) or 0x20 or 0x85 or 0xA0 or 0x1680 or (>= 0x2000 and <= 0x200A)
            or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    private static byte[] BuildBmpTable()
    {
        var table = new byte[0x10000];
        for (int c = 0; c < table.Length; c++)
        {
            if (c is >= 0xD800 and <= 0xDFFF)
            {
                continue;
            }

            CharFlags flags = FromCategory(CharUnicodeInfo.GetUnicodeCategory((char)c));
            if (IsWhiteSpaceProperty(c))
            {
                flags |= CharFlags.WhiteSpace;
            }

            if (c is '\r' or '\n')
            {
                flags |= CharFlags.NewLine;
            }

            table[c] = (byte)flags;
        }

        return table;
    }
}
