using System.Globalization;
using StackExchange.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// The Lua scripts of this folder, each run through its own type (<c>ReserveScript</c> for reserve.lua, …) with
/// <c>ScriptEvaluateAsync</c> and the script's text: the client sends EVALSHA once a server has the script, and
/// loads it again after a NOSCRIPT (a restart, a new cluster node, SCRIPT FLUSH).
/// </summary>
internal static class BillingScripts
{
    /// <summary>Every script the gateway runs: the readiness check loads a missing one on every primary.</summary>
    public static IReadOnlyList<string> All =>
    [
        ReserveScript.Text, SettleScript.Text, AddGrantScript.Text, ReadAccountScript.Text,
        KeyUsableScript.Text, SweepScript.Text, ClaimEventScript.Text, FinishEventScript.Text, HeartbeatScript.Text,
        RequestCreditScript.Text,
    ];

    /// <summary>
    /// An embedded <c>Billing/Scripts/{name}.lua</c>, after prelude.lua (the account's keys and the shared functions) and,
    /// before both, ratelimit.lua (whose end of a request prelude's drop_hold calls, so it comes first).
    /// </summary>
    public static string Load(string name) => Read("ratelimit") + "\n" + Read("prelude") + "\n" + Read(name);

    /// <summary>The month (yyyymm, UTC) in the scripts' field names: monthly spend, limits and recharges.</summary>
    public static string Month(DateTimeOffset t) => t.UtcDateTime.ToString("yyyyMM", CultureInfo.InvariantCulture);

    /// <summary>The day (yyyymmdd, UTC) of a usage-report hash.</summary>
    public static string Day(DateTimeOffset t) => t.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    /// <summary>The end of the day (UTC) of <paramref name="t"/>: midnight after it.</summary>
    public static DateTimeOffset DayEnd(DateTimeOffset t) => new DateTimeOffset(t.UtcDateTime.Date, TimeSpan.Zero).AddDays(1);

    /// <summary>A script's reply that is a list of strings (event ids).</summary>
    public static IReadOnlyList<string> Strings(RedisResult reply) => [.. ((RedisResult[])reply!).Select(r => (string)r!)];

    private static string Read(string name)
    {
        using var stream = typeof(BillingScripts).Assembly.GetManifestResourceStream($"TokenGateway.Billing.Scripts.{name}.lua")
            ?? throw new InvalidOperationException($"Embedded script {name}.lua is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
