using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Billing.Scripts;
using TokenGateway.Configuration;
using TokenGateway.Redis;

namespace TokenGateway.Keys;

/// <summary>Which account and key a secret's hash belongs to.</summary>
internal readonly record struct KeyRef(string AccountId, string KeyId)
{
    /// <summary>The value stored in the secret-hash directory: <c>account|keyId</c>.</summary>
    public string DirectoryValue => AccountId + "|" + KeyId;

    public static KeyRef FromDirectoryValue(string value)
    {
        var sep = value.IndexOf('|');
        return new KeyRef(value[..sep], value[(sep + 1)..]);
    }
}

/// <summary>
/// Gateway keys. A key's record (status, allowlist, budget, expiry, current and previous secret
/// hash) lives under its account's hash tag and is checked by the reserve script on every request,
/// so a revocation is effective at once on every replica. The secret hash → key mapping never
/// changes once written, so it is cached here: the hot path then needs no extra round trip.
/// </summary>
internal sealed class KeyStore(RedisConnector redis, TimeProvider clock, IOptions<GatewayOptions> options)
{
    private const int MaxCachedKeys = 100_000;
    private readonly ConcurrentDictionary<string, KeyRef> _bySecretHash = new(StringComparer.Ordinal);

    /// <summary>
    /// The key a request presents (a <c>tg-</c> secret in one of the key headers), with its secret's hash; null when none
    /// matches. A key already seen is found without allocating (issue 14: the hot path runs this on every request).
    /// </summary>
    public ValueTask<(KeyRef Key, string SecretHash)?> FindForRequestAsync(HttpRequest request)
    {
        var secret = GatewayKeySecret.Presented(request);
        if (!secret.StartsWith(GatewayKeySecret.Prefix, StringComparison.Ordinal)) return ValueTask.FromResult<(KeyRef, string)?>(null);
        Span<char> hex = stackalloc char[GatewayKeySecret.HashLength];
        // NOTE: looked up by the hash in a stack buffer; a hit returns the cached key and the hash string it is stored under.
        if (GatewayKeySecret.TryHash(secret, hex) && _bySecretHash.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(hex, out var sha, out var cached))
            return ValueTask.FromResult<(KeyRef, string)?>((cached, sha));
        return FindUncachedAsync(GatewayKeySecret.Hash(secret.ToString()));
    }

    private async ValueTask<(KeyRef Key, string SecretHash)?> FindUncachedAsync(string sha) => await FindAsync(sha) is KeyRef key ? (key, sha) : null;

    public async Task<KeyRef?> FindAsync(string secretHash)
    {
        if (_bySecretHash.TryGetValue(secretHash, out var cached)) return cached;
        var value = (string?)await (await redis.DatabaseAsync()).HashGetAsync(AccountKeys.KeysBySecret, secretHash);
        if (value is null) return null;
        var found = KeyRef.FromDirectoryValue(value);
        if (_bySecretHash.Count >= MaxCachedKeys) _bySecretHash.Clear();
        _bySecretHash[secretHash] = found;
        return found;
    }

    /// <param name="projectId">The key's project for good: reserve.lua checks its limit, settle.lua bills it.</param>
    public async Task<(string KeyId, string Secret)> CreateAsync(string accountId, string name, IReadOnlyList<string>? models, long? monthlyLimitMicros, DateTimeOffset? expiresAt,
        string projectId)
    {
        var keyId = GatewayKeySecret.NewKeyId();
        var secret = GatewayKeySecret.Generate();
        var sha = GatewayKeySecret.Hash(secret);
        var keys = new AccountKeys(accountId);
        var db = await redis.DatabaseAsync();
        await db.HashSetAsync(keys.Key(keyId),
        [
            new("sha", sha), new("status", "active"), new("name", name), new("project", projectId),
            new("models", models is null ? "" : string.Join(',', models)),
            new("monthly_limit", monthlyLimitMicros?.ToString(CultureInfo.InvariantCulture) ?? ""),
            new("expires_ms", expiresAt?.ToUnixTimeMilliseconds() ?? 0),
            new("created_ms", clock.GetUtcNow().ToUnixTimeMilliseconds()),
        ]);
        await db.HashSetAsync(AccountKeys.KeysById, keyId, accountId);
        await db.HashSetAsync(AccountKeys.KeysBySecret, sha, new KeyRef(accountId, keyId).DirectoryValue);
        return (keyId, secret);
    }

    /// <summary>The same checks as the reserve script (status, expiry, current or in-grace secret), for read-only endpoints.</summary>
    public async Task<bool> IsUsableAsync(KeyRef key, string secretHash) =>
        await new KeyUsableScript(key.AccountId, key.KeyId, secretHash, clock.GetUtcNow()).RunAsync(await redis.DatabaseAsync());

    public async Task<string?> AccountOfAsync(string keyId) => await (await redis.DatabaseAsync()).HashGetAsync(AccountKeys.KeysById, keyId);

    public async Task<bool> RevokeAsync(string keyId)
    {
        if (await AccountOfAsync(keyId) is not string accountId) return false;
        await (await redis.DatabaseAsync()).HashSetAsync(new AccountKeys(accountId).Key(keyId), "status", "revoked");
        return true;
    }

    /// <summary>A new secret; the previous one keeps working for the configured grace period.</summary>
    public async Task<string?> RotateAsync(string keyId)
    {
        if (await AccountOfAsync(keyId) is not string accountId) return null;
        var key = new AccountKeys(accountId).Key(keyId);
        var db = await redis.DatabaseAsync();
        var oldSha = (string?)await db.HashGetAsync(key, "sha");
        if (oldSha is null) return null;
        var secret = GatewayKeySecret.Generate();
        var sha = GatewayKeySecret.Hash(secret);
        var graceEnds = clock.GetUtcNow().AddSeconds(options.Value.Keys.RotationGraceSeconds).ToUnixTimeMilliseconds();
        await db.HashSetAsync(AccountKeys.KeysBySecret, sha, new KeyRef(accountId, keyId).DirectoryValue);
        await db.HashSetAsync(key, [new("sha", sha), new("prev_sha", oldSha), new("prev_until_ms", graceEnds)]);
        return secret;
    }
}
