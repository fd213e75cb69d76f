namespace TokenGateway.Metering;

/// <summary>
/// Upper bound of a request's input tokens, used for the hold. Every BPE token is at least one byte
/// of its text, and the JSON around the text is longer than OpenAI's per-message overhead, so the
/// body's byte length is never below the true count.
/// </summary>
internal static class InputTokenEstimator
{
    public static long UpperBound(InspectedRequest request, ReadOnlySpan<byte> body) => body.Length;
}
