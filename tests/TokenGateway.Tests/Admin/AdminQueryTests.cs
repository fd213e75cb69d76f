using TokenGateway.Admin;

namespace TokenGateway.Tests.Admin;

public sealed class AdminQueryTests
{
    [Theory]
    [InlineData("0-0")]
    [InlineData("1795394666145-0")]
    [InlineData("1795394666145-12")]
    [InlineData("18446744073709551615-18446744073709551614")]
    [InlineData("18446744073709551614-18446744073709551615")]
    public void IsLedgerCursor_StreamIdAsRedisPrintsIt_IsAccepted(string cursor) => Assert.True(AdminQuery.IsLedgerCursor(cursor));

    [Theory]
    [InlineData("")]
    [InlineData("-")]
    [InlineData("1")]
    [InlineData("1-")]
    [InlineData("-1")]
    [InlineData("01-1")]
    [InlineData("1-01")]
    [InlineData("+1-1")]
    [InlineData(" 1-1")]
    [InlineData("1-1\n")]
    [InlineData("1-1-1")]
    [InlineData("1_1")]
    [InlineData("\u0661-1")] // an Arabic-Indic digit
    [InlineData("99999999999999999999-1")] // 20 digits, above 2^64 - 1
    [InlineData("18446744073709551616-0")]
    [InlineData("1-18446744073709551616")]
    [InlineData("000000000000000000001-1")]
    [InlineData("18446744073709551615-18446744073709551615")] // the last id: nothing can follow it
    public void IsLedgerCursor_AnythingElse_IsRefused(string cursor) => Assert.False(AdminQuery.IsLedgerCursor(cursor));

    [Theory]
    [InlineData(null, 100)]
    [InlineData("1", 1)]
    [InlineData("1000", 1000)]
    [InlineData("050", 50)]
    public void TryParseLimit_Valid(string? value, int expected)
    {
        Assert.True(AdminQuery.TryParseLimit(value, 100, 1000, out var limit));
        Assert.Equal(expected, limit);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("1001")]
    [InlineData("-1")]
    [InlineData("+5")]
    [InlineData(" 5")]
    [InlineData("5 ")]
    [InlineData("1.5")]
    [InlineData("1e2")]
    [InlineData("abc")]
    [InlineData("99999999999")]
    public void TryParseLimit_Invalid(string value) => Assert.False(AdminQuery.TryParseLimit(value, 100, 1000, out _));
}
