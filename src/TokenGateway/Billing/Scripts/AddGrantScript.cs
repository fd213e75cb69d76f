using StackExchange.Redis;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// add_grant.lua: adds a grant (a top-up), idempotent by the Idempotency-Key marker (KEYS[9]). After
/// <see cref="AccountId"/> and <see cref="IdempotencyKey"/> (which name the keys), the members are the script's
/// arguments in its order.
/// </summary>
/// <param name="IdempotencyKey">Null: the marker is this grant's own id, never seen before, so never a replay.</param>
/// <param name="Fingerprint">Of the request as asked: a replay with another amount, expiry or source is refused.</param>
/// <param name="LedgerRetention">Entries older than this are trimmed after the grant's entry is appended.</param>
internal readonly record struct AddGrantScript(
    string AccountId, string? IdempotencyKey,
    string GrantId, long AmountMicros, string Source, DateTimeOffset Now, DateTimeOffset ExpiresAt, TimeSpan IdempotencyTtl, string Fingerprint,
    TimeSpan LedgerRetention)
{
    public static readonly BillingScript Script = new("add_grant");

    public static string Text => Script.Text;

    public async Task<GrantResult> RunAsync(IDatabase db)
    {
        var keys = new AccountKeys(AccountId);
        return Decode(await Script.EvaluateAsync(db, keys.ScriptKeys(keys.Idempotency(IdempotencyKey ?? GrantId)),
        [
            GrantId, AmountMicros, Source, Now.ToUnixTimeMilliseconds(), ExpiresAt.ToUnixTimeMilliseconds(),
            (long)IdempotencyTtl.TotalMilliseconds, Fingerprint, (long)LedgerRetention.TotalMilliseconds,
        ]));
    }

    /// <summary>{0, grant id, balance} added | {1, earlier grant id, balance} replayed | {2} no account | {3, earlier grant id} key reused.</summary>
    private static GrantResult Decode(RedisResult reply)
    {
        var r = (RedisResult[])reply!;
        return (int)r[0] switch
        {
            0 => new GrantResult(GrantStatus.Added, (string?)r[1], (long)r[2]),
            1 => new GrantResult(GrantStatus.Replayed, (string?)r[1], (long)r[2]),
            2 => new GrantResult(GrantStatus.NoAccount, null, 0),
            3 => new GrantResult(GrantStatus.IdempotencyKeyReused, (string?)r[1], 0),
            var status => throw new InvalidOperationException($"add_grant.lua returned an unknown status {status}."),
        };
    }
}
