using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Billing.Scripts;
using TokenGateway.Configuration;
using TokenGateway.Events;
using TokenGateway.Pricing;
using TokenGateway.Redis;

namespace TokenGateway.Billing;

/// <summary>
/// Account balances, holds, grants and the ledger in Redis. Every mutation is one Lua script, so it
/// is atomic however many gateway replicas share the Redis.
/// </summary>
internal sealed class BillingStore(RedisConnector redis, TimeProvider clock, IOptions<GatewayOptions> options, EventQueue events)
{
    private readonly GatewayOptions _options = options.Value;

    public long OverdraftMicros => Money.ToMicros(_options.Billing.OverdraftUsd) ?? 0;

    public long MinimumTopUpMicros => Money.ToMicros(_options.Billing.MinimumTopUpUsd) ?? 0;

    public async Task<bool> CreateAccountAsync(string id, string name)
    {
        var keys = new AccountKeys(id);
        var db = await redis.DatabaseAsync();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var created = await db.HashSetAsync(keys.Account, "created_ms", now, When.NotExists);
        if (!created) return false;
        await db.HashSetAsync(keys.Account, [new("name", name), new("balance", 0), new("held", 0)]);
        await db.SetAddAsync(AccountKeys.AccountIds, id);
        return true;
    }

    public async Task<ReserveResult> ReserveAsync(ReserveRequest r) =>
        await new ReserveScript(r.AccountId, r.KeySha, clock.GetUtcNow(), r.RequestId, r.Model, r.KeyId,
            r.InputCostMicros, r.OutputPicosPerToken, r.MaxOutputTokens, r.Choices, r.ExplicitOutputLimit,
            _options.Metering.MinimumOutputTokens, OverdraftMicros, TimeSpan.FromSeconds(_options.Metering.HoldTtlSeconds), _options.Metering.MaxHoldShare,
            r.InputTokenEstimate)
            .RunAsync(await redis.DatabaseAsync());

    public DateTimeOffset Now => clock.GetUtcNow();

    /// <summary>Replaces the hold by the actual cost (0 releases it). Idempotent by request id.</summary>
    /// <param name="at">
    /// When the request ended (default now): every attempt and every replay of one settle (see SettleJournal) is dated
    /// the same, so its debit, if written, has a ledger id at or after that date.
    /// </param>
    public async Task<SettleResult> SettleAsync(SettleRequest s, DateTimeOffset? at = null)
    {
        var retention = _options.Billing.Retention;
        var result = await new SettleScript(s.AccountId, s.RequestId, at ?? clock.GetUtcNow(), s.Charge, s.KeyId, s.Model, _options.Billing.GrantLifetime,
                retention.Ledger, retention.Usage, retention.SettleMarker(_options.Metering.HoldTtlSeconds), MinimumTopUpMicros, s.Usage)
            .RunAsync(await redis.DatabaseAsync());
        // Soft-limit and auto-recharge events this settle raised: delivered in the background, never on the hot path.
        foreach (var id in result.RaisedEvents) events.Enqueue(s.AccountId, id);
        return result;
    }

    /// <param name="expiresAt">Null: the configured default lifetime (one year) from now.</param>
    public async Task<GrantResult> AddGrantAsync(string accountId, long amountMicros, string source, DateTimeOffset? expiresAt, string? idempotencyKey)
    {
        var now = clock.GetUtcNow();
        // NOTE: the fingerprint is of the request as asked: an absent expiry stays absent (the computed one moves with
        // the clock, so a replay would never match). The source is the effective one: omitted means manual.
        var request = string.Join('|', amountMicros.ToString(CultureInfo.InvariantCulture),
            expiresAt?.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) ?? "", source);
        var fingerprint = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(request)));
        return await new AddGrantScript(accountId, idempotencyKey, "grant_" + Guid.NewGuid().ToString("N")[..16], amountMicros, source,
            now, expiresAt ?? now + _options.Billing.GrantLifetime, TimeSpan.FromDays(7), fingerprint, _options.Billing.Retention.Ledger).RunAsync(await redis.DatabaseAsync());
    }

    public async Task<AccountSnapshot?> ReadAccountAsync(string accountId) =>
        await new ReadAccountScript(accountId, clock.GetUtcNow()).RunAsync(await redis.DatabaseAsync());

    /// <summary>Renews the leases of this replica's in-flight requests of one account and records their consumption; returns how many were renewed.</summary>
    public async Task<int> HeartbeatAsync(string accountId, IReadOnlyList<HeldConsumption> holds) =>
        await new HeartbeatScript(accountId, clock.GetUtcNow(), TimeSpan.FromSeconds(_options.Metering.HoldTtlSeconds), holds,
            _options.Billing.Retention.Usage, _options.Billing.GrantLifetime, MinimumTopUpMicros).RunAsync(await redis.DatabaseAsync());

    /// <summary>Lifetime of a settle's idempotency marker (Billing:Retention:SettleMarkerSeconds).</summary>
    public TimeSpan SettledMarkerLifetime => _options.Billing.Retention.SettleMarker(_options.Metering.HoldTtlSeconds);

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
            new("ar_target", s.TargetBalanceMicros?.ToString(CultureInfo.InvariantCulture) ?? ""),
        ]);

    /// <summary>Threshold alerts and the low-balance alert, read by the settle script. False when the account does not exist.</summary>
    public Task<bool> SetAlertsAsync(string accountId, AlertSettings s) =>
        SetFieldsAsync(accountId,
        [
            new("alerts", string.Join(',', s.ThresholdsPercent)),
            new("low_balance", s.LowBalanceMicros?.ToString(CultureInfo.InvariantCulture) ?? ""),
        ]);

    private async Task<bool> SetFieldsAsync(string accountId, HashEntry[] fields)
    {
        var account = new AccountKeys(accountId).Account;
        var db = await redis.DatabaseAsync();
        // NOTE: checked first so a settings call cannot create a half account; accounts are never deleted.
        if (!await db.KeyExistsAsync(account)) return false;
        await db.HashSetAsync(account, fields);
        return true;
    }

    /// <param name="after">A cursor: the id of the last entry of the previous page (see AdminQuery.IsLedgerCursor), or null for the first page.</param>
    public async Task<IReadOnlyList<LedgerEntry>> ReadLedgerAsync(string accountId, int limit, string? after)
    {
        var db = await redis.DatabaseAsync();
        // NOTE: "(id" is an exclusive start (Redis 6.2+): the page begins after the cursor, not at it.
        var entries = await db.StreamRangeAsync(new AccountKeys(accountId).Ledger, minId: after is null ? "-" : "(" + after, count: limit);
        return [.. entries.Select(e => new LedgerEntry((string)e.Id!, e.Values.ToDictionary(v => (string)v.Name!, v => (string)v.Value!, StringComparer.Ordinal)))];
    }
}
