using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Configuration;
using TokenGateway.Pricing;
using TokenGateway.Redis;

namespace TokenGateway.Billing;

/// <summary>
/// Account balances, holds, grants and the ledger in Redis. Every mutation is one Lua script, so it
/// is atomic however many gateway replicas share the Redis.
/// </summary>
internal sealed class BillingStore(RedisConnection redis, TimeProvider clock, IOptions<GatewayOptions> options, EventQueue events)
{
    private static readonly RedisScript Reserve = RedisScript.FromResources("reserve");
    private static readonly RedisScript Settle = RedisScript.FromResources("settle");
    private static readonly RedisScript AddGrant = RedisScript.FromResources("add_grant");
    private static readonly RedisScript ReadAccount = RedisScript.FromResources("read_account");
    private static readonly RedisScript ReadLedger = RedisScript.FromResources("read_ledger", prelude: null);

    private readonly GatewayOptions _options = options.Value;

    private IDatabase Db => redis.Database;

    private long GrantLifetimeMs => (long)_options.Billing.GrantLifetime.TotalMilliseconds;

    public long OverdraftMicros => Money.ToMicros(_options.Billing.OverdraftUsd) ?? 0;

    public static string Month(DateTimeOffset t) => t.UtcDateTime.ToString("yyyyMM", CultureInfo.InvariantCulture);
    public static string Day(DateTimeOffset t) => t.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    public async Task<bool> CreateAccountAsync(string id, string name)
    {
        var keys = new AccountKeys(id);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var created = await Db.HashSetAsync(keys.Account, "created_ms", now, When.NotExists);
        if (!created) return false;
        await Db.HashSetAsync(keys.Account, [new("name", name), new("balance", 0), new("held", 0)]);
        await Db.SetAddAsync(AccountKeys.AccountIds, id);
        return true;
    }

    public async Task<ReserveResult> ReserveAsync(ReserveRequest r)
    {
        var keys = new AccountKeys(r.AccountId);
        var now = clock.GetUtcNow();
        var result = (RedisResult[])(await Reserve.EvaluateAsync(Db, keys.ScriptKeys(keys.Key(r.KeyId)),
        [
            r.KeySha, now.ToUnixTimeMilliseconds(), r.RequestId, r.Model, Month(now), r.KeyId,
            r.InputCostMicros, r.OutputPicosPerToken, r.MaxOutputTokens, r.Choices, r.ExplicitOutputLimit ? 1 : 0,
            _options.Metering.MinimumOutputTokens, OverdraftMicros, _options.Metering.HoldTtlSeconds * 1000L,
        ]))!;
        return (int)result[0] switch
        {
            0 => new ReserveResult(ReserveStatus.Reserved, HoldMicros: (long)result[1], GrantedOutputTokens: (int)result[2]),
            1 => new ReserveResult(ReserveStatus.InvalidKey),
            2 => new ReserveResult(ReserveStatus.ModelNotAllowed),
            _ => new ReserveResult(ReserveStatus.InsufficientQuota, Limit: (string?)result[1], RoomMicros: (long)result[2], NeededMicros: (long)result[3]),
        };
    }

    /// <summary>Replaces the hold by the actual cost (0 releases it). Idempotent by request id.</summary>
    public async Task<SettleResult> SettleAsync(SettleRequest s)
    {
        var keys = new AccountKeys(s.AccountId);
        var now = clock.GetUtcNow();
        var ledger = BilledDimensions.LedgerFields(s.Usage, s.Charge);
        List<RedisValue> args =
        [
            s.RequestId, now.ToUnixTimeMilliseconds(), s.CostMicros, Month(now), s.KeyId, s.Model, GrantLifetimeMs, ledger.Count / 2,
            .. ledger, .. BilledDimensions.Counters(s.Usage),
        ];
        var result = (RedisResult[])(await Settle.EvaluateAsync(Db, keys.ScriptKeys(keys.Settled(s.RequestId), keys.UsageDay(Day(now))), [.. args]))!;
        // Soft-limit and auto-recharge events this settle raised: delivered in the background, never on the hot path.
        for (var i = 2; i < result.Length; i++) events.Enqueue(s.AccountId, (string)result[i]!);
        return new SettleResult(AlreadySettled: (int)result[0] == 1, BalanceMicros: (long)result[1]);
    }

    /// <param name="expiresAt">Null: the configured default lifetime (one year) from now.</param>
    public async Task<GrantResult> AddGrantAsync(string accountId, long amountMicros, string source, DateTimeOffset? expiresAt, string? idempotencyKey)
    {
        var keys = new AccountKeys(accountId);
        var now = clock.GetUtcNow();
        var expires = expiresAt ?? now + _options.Billing.GrantLifetime;
        var grantId = "grant_" + Guid.NewGuid().ToString("N")[..16];
        // NOTE: without an Idempotency-Key the marker is this grant's own id: never seen before, so never a replay.
        var idem = keys.Idempotency(idempotencyKey ?? grantId);
        // NOTE: the fingerprint is of the request as asked: an absent expiry stays absent (the computed one moves with
        // the clock, so a replay would never match). The source is the effective one: omitted means manual.
        var request = string.Join('|', amountMicros.ToString(CultureInfo.InvariantCulture),
            expiresAt?.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) ?? "", source);
        var fingerprint = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(request)));
        var result = (RedisResult[])(await AddGrant.EvaluateAsync(Db, keys.ScriptKeys(idem),
        [
            grantId, amountMicros, source, now.ToUnixTimeMilliseconds(), expires.ToUnixTimeMilliseconds(),
            (long)TimeSpan.FromDays(7).TotalMilliseconds, fingerprint,
        ]))!;
        return (int)result[0] switch
        {
            3 => new GrantResult(GrantStatus.IdempotencyKeyReused, (string?)result[1], 0),
            2 => new GrantResult(GrantStatus.NoAccount, null, 0),
            1 => new GrantResult(GrantStatus.Replayed, (string?)result[1], (long)result[2]),
            _ => new GrantResult(GrantStatus.Added, (string?)result[1], (long)result[2]),
        };
    }

    public async Task<AccountSnapshot?> ReadAccountAsync(string accountId)
    {
        var keys = new AccountKeys(accountId);
        var now = clock.GetUtcNow();
        var result = (RedisResult[])(await ReadAccount.EvaluateAsync(Db, keys.ScriptKeys(), [now.ToUnixTimeMilliseconds()]))!;
        if (result.Length == 0) return null;
        var fields = Pairs((RedisResult[])result[0]!);
        var grantFields = Pairs((RedisResult[])result[1]!);
        var grants = new List<GrantSnapshot>();
        foreach (var (field, meta) in grantFields)
        {
            if (!field.EndsWith(":meta", StringComparison.Ordinal)) continue;
            var id = field[..^5];
            var parts = meta.Split('|');
            grants.Add(new GrantSnapshot(id, long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(grantFields[id], CultureInfo.InvariantCulture), parts[1],
                DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(parts[2], CultureInfo.InvariantCulture)),
                DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(parts[3], CultureInfo.InvariantCulture))));
        }
        long Field(string name) => fields.TryGetValue(name, out var v) ? long.Parse(v, CultureInfo.InvariantCulture) : 0;
        long? Optional(string name) => fields.TryGetValue(name, out var v) && v.Length > 0 ? long.Parse(v, CultureInfo.InvariantCulture) : null;
        var autoRecharge = fields.ContainsKey("ar_mode")
            ? new AutoRechargeSettings(fields["ar_enabled"] == "1", Field("ar_threshold"), Field("ar_amount"), Field("ar_limit"), fields["ar_mode"])
            : null;
        return new AccountSnapshot(accountId, fields.GetValueOrDefault("name", ""), Field("balance"), Field("held"),
            Field("spend:" + Month(now)), Optional("hard_limit"), Optional("soft_limit"), autoRecharge, Field("ar_month:" + Month(now)),
            [.. grants.OrderBy(g => g.ExpiresAt)]);
    }

    /// <summary>Monthly limits; null removes a limit. False when the account does not exist.</summary>
    public Task<bool> SetLimitsAsync(string accountId, long? hardLimitMicros, long? softLimitMicros) =>
        SetFieldsAsync(accountId,
        [
            new("hard_limit", hardLimitMicros?.ToString(CultureInfo.InvariantCulture) ?? ""),
            new("soft_limit", softLimitMicros?.ToString(CultureInfo.InvariantCulture) ?? ""),
        ]);

    /// <summary>Read by the settle script, which decides when a recharge happens. False when the account does not exist.</summary>
    public Task<bool> SetAutoRechargeAsync(string accountId, AutoRechargeSettings s) =>
        SetFieldsAsync(accountId,
        [
            new("ar_enabled", s.Enabled ? "1" : "0"),
            new("ar_threshold", s.ThresholdMicros),
            new("ar_amount", s.AmountMicros),
            new("ar_limit", s.MonthlyLimitMicros),
            new("ar_mode", s.Mode),
        ]);

    private async Task<bool> SetFieldsAsync(string accountId, HashEntry[] fields)
    {
        var account = new AccountKeys(accountId).Account;
        // NOTE: checked first so a settings call cannot create a half account; accounts are never deleted.
        if (!await Db.KeyExistsAsync(account)) return false;
        await Db.HashSetAsync(account, fields);
        return true;
    }

    public async Task<IReadOnlyList<LedgerEntry>> ReadLedgerAsync(string accountId, int limit, string? after)
    {
        var keys = new AccountKeys(accountId);
        // NOTE: an exclusive start ("(id") needs Redis 6.2+; the cursor is the last id returned.
        var entries = (RedisResult[])(await ReadLedger.EvaluateAsync(Db, [keys.Ledger], [after ?? "-", limit]))!;
        return [.. entries.Select(e =>
        {
            var entry = (RedisResult[])e!;
            return new LedgerEntry((string)entry[0]!, Pairs((RedisResult[])entry[1]!));
        })];
    }

    private static Dictionary<string, string> Pairs(RedisResult[] flat)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < flat.Length; i += 2) map[(string)flat[i]!] = (string)flat[i + 1]!;
        return map;
    }
}
