using StackExchange.Redis;
using TokenGateway.Events;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// sweep.lua: applies lease and grant expiry to one account and lists its outbox events due for delivery.
/// The arguments are now and the most events to return.
/// </summary>
internal readonly record struct SweepScript(string AccountId, DateTimeOffset Now, int MaxEvents)
{
    public static readonly string Text = BillingScripts.Load("sweep");

    /// <summary>The ids of the due events; none when the account does not exist.</summary>
    public async Task<IReadOnlyList<string>> RunAsync(IDatabase db) =>
        BillingScripts.Strings(await db.ScriptEvaluateAsync(Text, new AccountKeys(AccountId).ScriptKeys(), [Now.ToUnixTimeMilliseconds(), MaxEvents]));
}
