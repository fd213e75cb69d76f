using TokenGateway.BillingConsole;

namespace TokenGateway.Tests.BillingConsole;

/// <summary>The expiry field of the console's forms (a new key, added credit), read in one place.</summary>
public sealed class ConsoleFormatTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 15, 30, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void ParseExpiry_Empty_IsNoExpiry(string? text) => Assert.Equal((null, null), ConsoleFormat.ParseExpiry(text, Now));

    [Fact]
    public void ParseExpiry_FutureDate_IsTheStartOfThatDayUtc() =>
        Assert.Equal((new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero), null), ConsoleFormat.ParseExpiry("2026-11-24", Now));

    [Theory]
    [InlineData("2026-11-23")] // today started before now
    [InlineData("2025-01-01")]
    public void ParseExpiry_TodayOrPast_IsRefused(string text) =>
        Assert.Equal((null, "The expiry must be in the future."), ConsoleFormat.ParseExpiry(text, Now));

    [Theory]
    [InlineData("24/11/2026")]
    [InlineData("2026-11-24T00:00")]
    [InlineData("tomorrow")]
    public void ParseExpiry_NotADate_IsRefused(string text) =>
        Assert.Equal((null, "The expiry must be a date (yyyy-mm-dd)."), ConsoleFormat.ParseExpiry(text, Now));
}
