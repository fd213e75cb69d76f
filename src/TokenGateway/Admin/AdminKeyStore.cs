using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.WebUtilities;
using StackExchange.Redis;
using TokenGateway.Keys;
using TokenGateway.Redis;

namespace TokenGateway.Admin;

/// <summary>An admin key's record: the one account it manages.</summary>
internal sealed record AdminKeyRef(string Id, string AccountId);

/// <summary>
/// Team-scoped admin keys (<c>tga-</c> + 256 random bits, shown once, stored only as SHA-256 like gateway keys).
/// They open the admin API and the console for one account, and never the proxy: the proxy only looks up
/// <c>tg-</c> secrets, in another directory. No cache: a revocation is effective on the next request everywhere.
/// </summary>
internal sealed class AdminKeyStore(RedisConnector redis, TimeProvider clock)
{
    public const string Prefix = "tga-";

    // Global (untagged) directories: secret hash → "account|id", id → "account|secret hash|created ms|name".
    private static readonly RedisKey BySecret = "tg:admin_keys";
    private static readonly RedisKey ById = "tg:admin_key_ids";

    public async Task<(string Id, string Secret)> CreateAsync(string accountId, string name)
    {
        var id = "akey_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var secret = Prefix + WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        var sha = GatewayKeySecret.Hash(secret);
        var db = await redis.DatabaseAsync();
        var created = clock.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        await db.HashSetAsync(ById, id, string.Join('|', accountId, sha, created, name.Replace('|', ' ')));
        await db.HashSetAsync(BySecret, sha, accountId + "|" + id);
        return (id, secret);
    }

    /// <summary>The key a presented secret is, or null (unknown, revoked, or not an admin key at all).</summary>
    public async Task<AdminKeyRef?> FindAsync(string secret)
    {
        if (!secret.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        var value = (string?)await (await redis.DatabaseAsync()).HashGetAsync(BySecret, GatewayKeySecret.Hash(secret));
        if (value is null) return null;
        var sep = value.IndexOf('|');
        return new AdminKeyRef(value[(sep + 1)..], value[..sep]);
    }

    /// <summary>Whether the key still exists (a console session made with it ends when it is revoked).</summary>
    public async Task<bool> ExistsAsync(string id) => await (await redis.DatabaseAsync()).HashExistsAsync(ById, id);

    /// <summary>Deletes the key; false when there is none with that id.</summary>
    public async Task<bool> RevokeAsync(string id)
    {
        var db = await redis.DatabaseAsync();
        var value = (string?)await db.HashGetAsync(ById, id);
        if (value is null) return false;
        var sha = value.Split('|')[1];
        await db.HashDeleteAsync(BySecret, sha);
        await db.HashDeleteAsync(ById, id);
        return true;
    }
}
