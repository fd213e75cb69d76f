using System.Text.Json;
using StackExchange.Redis;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// heartbeat.lua: renews the leases of one replica's in-flight requests of <see cref="AccountId"/> and records what
/// each has consumed so far. The arguments are now and the lease, then each hold's request id and its record
/// (<see cref="Record"/>: JSON, decoded by prelude.lua's charge_lease when the lease ends).
/// </summary>
internal readonly record struct HeartbeatScript(string AccountId, DateTimeOffset Now, TimeSpan Lease, IReadOnlyList<HeldConsumption> Holds)
{
    public static readonly string Text = BillingScripts.Load("heartbeat");

    /// <summary>How many of the holds were still there and renewed.</summary>
    public async Task<int> RunAsync(IDatabase db)
    {
        var args = new List<RedisValue>(2 + 2 * Holds.Count) { Now.ToUnixTimeMilliseconds(), (long)Lease.TotalMilliseconds };
        foreach (var hold in Holds)
        {
            args.Add(hold.RequestId);
            args.Add(Record(hold, Now));
        }
        return (int)await db.ScriptEvaluateAsync(Text, new AccountKeys(AccountId).ScriptKeys(), [.. args]);
    }

    /// <summary>The consumption record: cost (micro-USD), month (yyyymm, of the heartbeat), model label, the debit's ledger fields, marker_ms.</summary>
    public static string Record(HeldConsumption hold, DateTimeOffset now)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            // NOTE: integers as strings: Lua's cjson reads numbers as doubles, exact only below 2^53.
            json.WriteString("cost", hold.Charge.Micros.ToString(System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("month", BillingScripts.Month(now));
            json.WriteString("model", hold.Model);
            json.WriteString("marker_ms", ((long)hold.SettledMarkerLifetime.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
            json.WriteStartArray("fields");
            foreach (var field in BilledDimensions.LedgerFields(hold.Usage, hold.Charge)) json.WriteStringValue((string)field!);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
