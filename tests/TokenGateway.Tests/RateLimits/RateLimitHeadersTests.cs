using TokenGateway.RateLimits;

namespace TokenGateway.Tests.RateLimits;

public sealed class RateLimitHeadersTests
{
    [Theory]
    [InlineData(0, "0s")]
    [InlineData(20, "20ms")]
    [InlineData(999, "999ms")]
    [InlineData(1000, "1s")]
    [InlineData(1146, "1.146s")]
    [InlineData(59_500, "59.5s")]
    [InlineData(60_000, "1m0s")]
    [InlineData(61_500, "1m1.5s")]
    [InlineData(360_000, "6m0s")]
    [InlineData(3_600_000, "1h0m0s")]
    [InlineData(86_400_000, "24h0m0s")]
    public void Duration_IsOpenAIsFormat(long ms, string expected) => Assert.Equal(expected, RateLimitHeaders.Duration(ms));
}
