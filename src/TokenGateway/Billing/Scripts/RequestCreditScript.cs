using StackExchange.Redis;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// request_credit.lua: records a team admin's credit request as pending and raises its <c>credit.requested</c> event
/// for the funding webhook (KEYS[9] is the account's credit requests). The arguments are the request id, the amount,
/// now and the admin key that asked.
/// </summary>
internal readonly record struct RequestCreditScript(string AccountId, string RequestId, long AmountMicros, DateTimeOffset Now, string RequestedBy)
{
    public static readonly BillingScript Script = new("request_credit");

    public static string Text => Script.Text;

    /// <returns>Null when the account does not exist; else the events raised (to deliver at once).</returns>
    public async Task<IReadOnlyList<string>?> RunAsync(IDatabase db)
    {
        var keys = new AccountKeys(AccountId);
        var r = (RedisResult[])(await Script.EvaluateAsync(db, keys.ScriptKeys(keys.CreditRequests),
            [RequestId, AmountMicros, Now.ToUnixTimeMilliseconds(), RequestedBy]))!;
        return (int)r[0] == 0 ? null : [.. r.Skip(1).Select(e => (string)e!)];
    }
}
