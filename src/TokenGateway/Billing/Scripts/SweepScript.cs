using StackExchange.Redis;
using TokenGateway.Events;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// sweep.lua: applies lease and grant expiry to one account, trims its ledger to the retention (an idle account's
/// too) and lists its outbox events due for delivery. The arguments are now, the most events to return and the
/// retention of the ledger.
/// </summary>
internal readonly record struct SweepScript(string AccountId, DateTimeOffset Now, int MaxEvents, TimeSpan LedgerRetention)
{
    public static readonly BillingScript Script = new("sweep");

    public static string Text => Script.Text;

    /// <summary>The ids of the due events; none when the account does not exist.</summary>
    public async Task<IReadOnlyList<string>> RunAsync(IDatabase db) =>
        BillingScripts.Strings(await Script.EvaluateAsync(db, new AccountKeys(AccountId).ScriptKeys(), [Now.ToUnixTimeMilliseconds(), MaxEvents, (long)LedgerRetention.TotalMilliseconds]));
}
