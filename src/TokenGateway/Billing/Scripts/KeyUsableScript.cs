using StackExchange.Redis;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// key_usable.lua: whether a presented key may be used, by the reserve script's own rule (status, expiry, current or
/// in-grace secret; see prelude.lua), for the read-only endpoints. KEYS[9] is the key's hash; the arguments are the
/// secret's hash and now.
/// </summary>
internal readonly record struct KeyUsableScript(string AccountId, string KeyId, string SecretSha, DateTimeOffset Now)
{
    public static readonly BillingScript Script = new("key_usable");

    public static string Text => Script.Text;

    /// <summary>The script returns 1 (usable) or 0.</summary>
    public async Task<bool> RunAsync(IDatabase db)
    {
        var keys = new AccountKeys(AccountId);
        return (int)await Script.EvaluateAsync(db, keys.ScriptKeys(keys.Key(KeyId)), [SecretSha, Now.ToUnixTimeMilliseconds()]) == 1;
    }
}
