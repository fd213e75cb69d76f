using StackExchange.Redis;
using TokenGateway.Keys;
using TokenGateway.Projects;
using TokenGateway.Redis;

namespace TokenGateway.RateLimits;

/// <summary>Where a scope's limits are stored: the account, and the field of its hash (see <see cref="RateLimitSettings"/>).</summary>
internal readonly record struct RateLimitTarget(string AccountId, string Field);

/// <summary>
/// The rate limits of keys, projects and accounts, kept in the account hash beside the other limits so the reserve script
/// reads them in the HMGET it already makes (no extra Redis call on the hot path). Their state (the GCRA buckets, the
/// requests in flight) is ratelimit.lua's alone.
/// </summary>
internal sealed class RateLimitStore(RedisConnector redis, KeyStore keys)
{
    /// <summary>The key's account and field; null when there is no such key.</summary>
    public async Task<RateLimitTarget?> ForKeyAsync(string keyId) =>
        await keys.AccountOfAsync(keyId) is string account ? new RateLimitTarget(account, "rl:k:" + keyId) : null;

    /// <summary>Null when the account does not exist.</summary>
    public async Task<RateLimitTarget?> ForAccountAsync(string accountId) =>
        await (await redis.DatabaseAsync()).KeyExistsAsync(new AccountKeys(accountId).Account) ? new RateLimitTarget(accountId, "rl:a") : null;

    /// <summary>Null when the account or the project does not exist (an archived project still has its limits).</summary>
    public async Task<RateLimitTarget?> ForProjectAsync(string accountId, string projectId)
    {
        var keys = new AccountKeys(accountId);
        var db = await redis.DatabaseAsync();
        if (!await db.KeyExistsAsync(keys.Account)) return null;
        if (projectId != ProjectStore.Default && !await db.HashExistsAsync(keys.Projects, projectId)) return null;
        return new RateLimitTarget(accountId, "rl:p:" + projectId);
    }

    public async Task<RateLimitSettings> GetAsync(RateLimitTarget target) =>
        RateLimitSettings.FromStored((byte[]?)await (await redis.DatabaseAsync()).HashGetAsync(new AccountKeys(target.AccountId).Account, target.Field));

    /// <summary>Replaces the scope's limits; no limit at all removes the field. Effective on the next reserve on every replica.</summary>
    public async Task SetAsync(RateLimitTarget target, RateLimitSettings settings)
    {
        var db = await redis.DatabaseAsync();
        var account = new AccountKeys(target.AccountId).Account;
        if (settings.IsEmpty) await db.HashDeleteAsync(account, target.Field);
        else await db.HashSetAsync(account, target.Field, settings.ToStored());
    }
}
