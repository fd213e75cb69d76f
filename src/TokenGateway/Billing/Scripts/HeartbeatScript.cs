using System.Text.Json;
using StackExchange.Redis;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// heartbeat.lua: renews the leases of one replica's in-flight requests of <see cref="AccountId"/> and records what
/// each has consumed so far. The arguments are now and the lease, then each hold's request id and its record
/// (<see cref="Record"/>: JSON, decoded by prelude.lua's charge_lease when the lease ends). A lease's charge counts and
/// alerts like a settle (prelude.lua's after_debit), so the record carries what a settle is sent for that: the usage
/// counters, the usage hashes of the beat's day, hour and minute with the date each expires (<see cref="UsageRetention"/>
/// after the day, <see cref="UsageReport.HourRetention"/> and <see cref="UsageReport.MinuteRetention"/> after the hour and
/// the minute), the lifetime of an auto-recharge grant and the minimum top-up.
/// </summary>
internal readonly record struct HeartbeatScript(
    string AccountId, DateTimeOffset Now, TimeSpan Lease, IReadOnlyList<HeldConsumption> Holds,
    TimeSpan UsageRetention, TimeSpan GrantLifetime, long MinimumTopUpMicros)
{
    public static readonly BillingScript Script = new("heartbeat");

    public static string Text => Script.Text;

    /// <summary>How many of the holds were still there and renewed.</summary>
    public async Task<int> RunAsync(IDatabase db)
    {
        var args = new List<RedisValue>(2 + 2 * Holds.Count) { Now.ToUnixTimeMilliseconds(), (long)Lease.TotalMilliseconds };
        foreach (var hold in Holds)
        {
            args.Add(hold.RequestId);
            args.Add(Record(hold));
        }
        return (int)await Script.EvaluateAsync(db, new AccountKeys(AccountId).ScriptKeys(), [.. args]);
    }

    /// <summary>
    /// The consumption record: cost (micro-USD), month (yyyymm, of the heartbeat), model label, the debit's ledger
    /// fields, marker_ms, tokens (input + output, for the tokens-per-minute limits), counters (usage-report metric/value
    /// pairs, as a settle sends them), periods ([usage hash name without the account's tag, expiry date ms] of the
    /// heartbeat's day, hour and minute), grant_ms (auto-recharge grant lifetime) and min_topup (micro-USD).
    /// </summary>
    public string Record(HeldConsumption hold)
    {
        var hour = UsageReport.HourStart(Now);
        var minute = UsageReport.MinuteStart(Now);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            // NOTE: integers as strings: Lua's cjson reads numbers as doubles, exact only below 2^53.
            json.WriteString("cost", Integer(hold.Charge.Micros));
            json.WriteString("month", BillingScripts.Month(Now));
            json.WriteString("model", hold.Model);
            json.WriteString("marker_ms", Integer((long)hold.SettledMarkerLifetime.TotalMilliseconds));
            json.WriteString("tokens", Integer(hold.Usage.Input + hold.Usage.Output));
            json.WriteString("grant_ms", Integer((long)GrantLifetime.TotalMilliseconds));
            json.WriteString("min_topup", Integer(MinimumTopUpMicros));
            json.WriteStartArray("fields");
            foreach (var field in BilledDimensions.LedgerFields(hold.Usage, hold.Charge)) json.WriteStringValue((string)field!);
            json.WriteEndArray();
            json.WriteStartArray("counters");
            foreach (var counter in BilledDimensions.Counters(hold.Usage).Concat(BilledDimensions.LineItemCounters(hold.Charge))) json.WriteStringValue((string)counter!);
            json.WriteEndArray();
            json.WriteStartArray("periods");
            // NOTE: names only: charge_lease prefixes the account's hash tag (AccountKeys' names), so the keys stay in its slot.
            Period(json, "usage:" + BillingScripts.Day(Now), BillingScripts.DayEnd(Now) + UsageRetention);
            Period(json, "usage_h:" + UsageReport.HourName(hour), hour.AddHours(1) + UsageReport.HourRetention);
            Period(json, "usage_m:" + UsageReport.MinuteName(minute), minute.AddMinutes(1) + UsageReport.MinuteRetention);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void Period(Utf8JsonWriter json, string name, DateTimeOffset expires)
    {
        json.WriteStartArray();
        json.WriteStringValue(name);
        json.WriteStringValue(Integer(expires.ToUnixTimeMilliseconds()));
        json.WriteEndArray();
    }

    private static string Integer(long v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
