namespace TokenGateway.Metering;

/// <summary>
/// The rules a hold is sized by, named: what the reserve assumes a request can cost at most. The input part is
/// <see cref="InputTokenBound"/>; the output part is the limit the gateway enforces (the request's own, else the
/// model's maximum, lowered by reserve.lua to a share of the room, see <c>Metering:MaxHoldShare</c>).
/// </summary>
internal static class HoldRules
{
    /// <summary>Legacy Completions write at most 16 tokens when <c>max_tokens</c> is absent (OpenAI's default).</summary>
    public const int LegacyCompletionsDefaultOutput = 16;
}
