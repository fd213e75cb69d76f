using System.Globalization;
using TokenGateway.Pricing;

namespace TokenGateway.BillingConsole;

/// <summary>How the console prints and reads money, dates and counts: exact micro-USD, UTC, invariant culture.</summary>
internal static class ConsoleFormat
{
    /// <summary>Exact: every micro-dollar shows ($1.5 → $1.50, $0.000123 → $0.000123).</summary>
    public static string Usd(long micros) => (micros < 0 ? "-$" : "$") + Money.ToUsd(Math.Abs(micros)).ToString("#,0.00####", CultureInfo.InvariantCulture);

    /// <summary>For CSV and form values: no thousands separator, a dot.</summary>
    public static string Plain(long micros) => Money.ToUsd(micros).ToString("0.00####", CultureInfo.InvariantCulture);

    public static string Date(DateTimeOffset? t) => t is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : "—";

    public static string DateTime(DateTimeOffset? t) => t is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) : "—";

    public static string Count(long n) => n.ToString("#,0", CultureInfo.InvariantCulture);

    /// <summary>A USD amount typed in a form ("12", "12.5", "$12.50"): exact micros, or null when it is not one.</summary>
    public static long? ParseUsd(string? text)
    {
        var t = text?.Trim().TrimStart('$').Replace(",", "", StringComparison.Ordinal);
        if (string.IsNullOrEmpty(t) || !decimal.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var usd)) return null;
        return Money.ToMicros(usd);
    }

    /// <summary>
    /// An expiry typed in a form (yyyy-mm-dd: the start of that day, UTC): null when empty, or the form's error when it
    /// is not a date or not in the future.
    /// </summary>
    public static (DateTimeOffset? At, string? Error) ParseExpiry(string? text, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(text)) return (null, null);
        if (!DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            return (null, "The expiry must be a date (yyyy-mm-dd).");
        var at = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        return at <= now ? (null, "The expiry must be in the future.") : (at, null);
    }
}
