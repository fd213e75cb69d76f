using System.Globalization;

namespace TokenGateway.Admin;

/// <summary>
/// Query parameters of the admin API. Handlers take them as strings and parse them here, so a bad value is a 400 in
/// OpenAI's shape that names the parameter, never a binding failure or a Redis error.
/// </summary>
internal static class AdminQuery
{
    /// <summary>Absent: <paramref name="fallback"/>. Otherwise decimal digits only (no sign, no spaces), from 1 to <paramref name="max"/>.</summary>
    public static bool TryParseLimit(string? value, int fallback, int max, out int limit)
    {
        limit = fallback;
        return value is null || (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit >= 1 && limit <= max);
    }

    /// <summary>
    /// A ledger cursor is an entry id this API returned, <c>ms-seq</c>: both parts unsigned 64-bit numbers printed as
    /// Redis prints them (digits only, at most 20, no leading zero), and not the largest id, which an exclusive XRANGE
    /// start cannot follow. So Redis can never refuse one.
    /// </summary>
    public static bool IsLedgerCursor(string value)
    {
        var dash = value.IndexOf('-', StringComparison.Ordinal);
        return dash > 0
            && Canonical(value.AsSpan(0, dash), out var ms)
            && Canonical(value.AsSpan(dash + 1), out var seq)
            && !(ms == ulong.MaxValue && seq == ulong.MaxValue);

        static bool Canonical(ReadOnlySpan<char> digits, out ulong number) =>
            ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out number) && (digits.Length == 1 || digits[0] != '0');
    }
}
