using System.Globalization;
using StackExchange.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// The Lua scripts of this folder, each run through its own type (<c>ReserveScript</c> for reserve.lua, …) and its
/// <see cref="BillingScript"/>: EVALSHA by the SHA-1 computed once, the text again after a NOSCRIPT (a restart, a new
/// cluster node, SCRIPT FLUSH).
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

/// <summary>
/// One script of this folder, run by its SHA-1 (EVALSHA). StackExchange.Redis's <c>ScriptEvaluateAsync(string)</c> finds a
/// script's SHA-1 by its text in a dictionary, which hashes the whole text (~33 KB with ratelimit.lua and prelude.lua) on
/// every call: 16–20 % of the gateway's CPU in the profile of docs/benchmarks/proxy.md, two calls a request. The SHA-1 is
/// computed once here; a server that does not have the script (restarted, a new cluster node, SCRIPT FLUSH) answers
/// NOSCRIPT, and the call is then made with the text, which loads it.
/// </summary>
internal sealed class BillingScript(string name)
{
    public string Text { get; } = BillingScripts.Load(name);

    // NOTE: computed on first use (a field initializer cannot read Text); two threads computing it at once get the same bytes.
    private byte[] Hash => _hash ??= System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(Text));
    private byte[]? _hash;

    public async Task<RedisResult> EvaluateAsync(IDatabaseAsync db, RedisKey[] keys, RedisValue[] args)
    {
        try
        {
            return await db.ScriptEvaluateAsync(Hash, keys, args);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await db.ScriptEvaluateAsync(Text, keys, args);
        }
    }
}
