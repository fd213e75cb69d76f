using StackExchange.Redis;
using TokenGateway.Metering;
using TokenGateway.Pricing;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// settle.lua: replaces the hold by the actual cost, appends the ledger entry and the usage counters, and raises the
/// soft-limit, threshold, low-balance and auto-recharge events this debit causes. Idempotent by request id. After
/// <see cref="AccountId"/>, the members are the script's arguments in its order: request id, now, cost
/// (<see cref="Charge"/>), month (of <see cref="Now"/>), key id, model label, lifetime of an auto-recharge grant, the
/// retention of the ledger, the time left until the day's usage hash expires (<see cref="UsageRetention"/> after the end
/// of the day of <see cref="Now"/>, UTC), the lifetime of the settled marker, the time left until the hour's and the
/// minute's usage hashes expire (<see cref="UsageReport.HourRetention"/>, <see cref="UsageReport.MinuteRetention"/> after
/// their end), the minimum top-up (a partial auto-recharge is at least that) and the tokens <see cref="Usage"/> counts (input +
/// output: what the tokens-per-minute limits are corrected to, see ratelimit.lua); then the ledger fields of
/// <see cref="Usage"/> and <see cref="Charge"/>, counted, and the usage-report counters (see <see cref="BilledDimensions"/>).
/// KEYS[9] is this request's settled marker, KEYS[10] the day's usage hash, KEYS[11] the key's hash (its project),
/// KEYS[12] and KEYS[13] the hour's and the minute's usage hashes.
/// </summary>
internal readonly record struct SettleScript(
    string AccountId,
    string RequestId, DateTimeOffset Now, Charge Charge, string KeyId, string Model, TimeSpan GrantLifetime,
    TimeSpan LedgerRetention, TimeSpan UsageRetention, TimeSpan SettledMarkerLifetime, long MinimumTopUpMicros, TokenUsage Usage)
{
    public static readonly BillingScript Script = new("settle");

    public static string Text => Script.Text;

    public async Task<SettleResult> RunAsync(IDatabase db)
    {
        var keys = new AccountKeys(AccountId);
        var ledger = BilledDimensions.LedgerFields(Usage, Charge);
        var hour = UsageReport.HourStart(Now);
        var minute = UsageReport.MinuteStart(Now);
        RedisValue[] args =
        [
            RequestId, Now.ToUnixTimeMilliseconds(), Charge.Micros, BillingScripts.Month(Now), KeyId, Model,
            (long)GrantLifetime.TotalMilliseconds, (long)LedgerRetention.TotalMilliseconds,
            (long)(BillingScripts.DayEnd(Now) + UsageRetention - Now).TotalMilliseconds, (long)SettledMarkerLifetime.TotalMilliseconds,
            (long)(hour.AddHours(1) + UsageReport.HourRetention - Now).TotalMilliseconds,
            (long)(minute.AddMinutes(1) + UsageReport.MinuteRetention - Now).TotalMilliseconds,
            MinimumTopUpMicros, Usage.Input + Usage.Output,
            ledger.Count / 2, .. ledger, .. BilledDimensions.Counters(Usage), .. BilledDimensions.LineItemCounters(Charge),
        ];
        return Decode(await Script.EvaluateAsync(db, keys.ScriptKeys(keys.Settled(RequestId), keys.UsageDay(BillingScripts.Day(Now)), keys.Key(KeyId),
            keys.UsageHour(UsageReport.HourName(hour)), keys.UsageMinute(UsageReport.MinuteName(minute))), args));
    }

    /// <summary>{0, balance, ids of the events raised…} settled | {1, balance} already settled.</summary>
    private static SettleResult Decode(RedisResult reply)
    {
        var r = (RedisResult[])reply!;
        return new SettleResult(AlreadySettled: (int)r[0] == 1, BalanceMicros: (long)r[1], RaisedEvents: [.. r.Skip(2).Select(e => (string)e!)]);
    }
}
