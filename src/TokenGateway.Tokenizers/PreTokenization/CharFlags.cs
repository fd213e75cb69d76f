namespace TokenGateway.Tokenizers.PreTokenization;

/// <summary>The character classes the tiktoken pre-tokenizer patterns test.</summary>
[Flags]
internal enum CharFlags : byte
{
    None = 0,

    /// <summary><c>\p{L}</c>: Lu, Ll, Lt, Lm, Lo.</summary>
    Letter = 1,

    /// <summary><c>\p{N}</c>: Nd, Nl, No.</summary>
    Number = 2,

    /// <summary><c>\s</c>: the Unicode White_Space property (what the Rust regex crate uses).</summary>
    WhiteSpace = 4,

    /// <summary>o200k's <c>[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]</c>.</summary>
    UpperLike = 8,

    /// <summary>o200k's <c>[\p{Ll}\p{Lm}\p{Lo}\p{M}]</c>.</summary>
    LowerLike = 16,

    /// <summary><c>\r</c> or <c>\n</c>.</summary>
    NewLine = 32,
}
