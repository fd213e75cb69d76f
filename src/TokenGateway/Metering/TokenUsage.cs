namespace TokenGateway.Metering;

/// <summary>Token counts of one request. Input includes cached; output includes reasoning.</summary>
internal readonly record struct TokenUsage(long Input, long Cached, long Output);
