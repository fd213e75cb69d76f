namespace TokenGateway.Metering;

/// <summary>The rules a hold is sized by, named: what the reserve assumes a request can cost at most.</summary>
internal static class HoldRules
{
    /// <summary>Legacy Completions write at most 16 tokens when <c>max_tokens</c> is absent (OpenAI's default).</summary>
    public const int LegacyCompletionsDefaultOutput = 16;

    /// <summary>
    /// Input tokens a hold assumes for <paramref name="counted"/> tokens counted locally: 10 % and 16 more, for
    /// what the local count cannot see (tool-formatting tokens, image sizes).
    /// </summary>
    public static long InputTokens(long counted) => counted + counted / 10 + 16;
}
