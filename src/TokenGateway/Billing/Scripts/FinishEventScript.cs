using StackExchange.Redis;
using TokenGateway.Events;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// finish_event.lua: records the outcome of a delivery attempt (an approved funding request grants the recharge, a
/// refused one releases its share of the monthly limit; a team admin's credit request is granted or marked refused). The arguments are now, the event id, the outcome, when to
/// retry, the lifetime of an auto-recharge grant, the reason and the retention of the ledger.
/// </summary>
internal readonly record struct FinishEventScript(
    EventRef Event, DateTimeOffset Now, DeliveryOutcome Outcome, DateTimeOffset RetryAt, TimeSpan GrantLifetime, string Reason, TimeSpan LedgerRetention)
{
    public static readonly BillingScript Script = new("finish_event");

    public static string Text => Script.Text;

    /// <returns>The ids of the events the outcome raised (the result of an auto-recharge).</returns>
    public async Task<IReadOnlyList<string>> RunAsync(IDatabase db) =>
        BillingScripts.Strings(await Script.EvaluateAsync(db, Keys(Event.AccountId),
        [
            Now.ToUnixTimeMilliseconds(), Event.EventId, OutcomeName(Outcome), RetryAt.ToUnixTimeMilliseconds(),
            (long)GrantLifetime.TotalMilliseconds, Reason, (long)LedgerRetention.TotalMilliseconds,
        ]));

    // KEYS[9]: the account's credit requests, whose status a funding answer to a credit.requested event records.
    private static RedisKey[] Keys(string accountId)
    {
        var keys = new AccountKeys(accountId);
        return keys.ScriptKeys(keys.CreditRequests);
    }

    private static string OutcomeName(DeliveryOutcome outcome) => outcome switch
    {
        DeliveryOutcome.Retry => "retry",
        DeliveryOutcome.Delivered => "delivered",
        DeliveryOutcome.Approved => "approved",
        DeliveryOutcome.Refused => "refused",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };
}
