using StackExchange.Redis;

namespace TokenGateway.Redis;

/// <summary>
/// Redis key names of one account. Every name carries the hash tag <c>{acct:id}</c>, so all the keys
/// one script touches live on one Redis Cluster slot.
/// </summary>
internal readonly record struct AccountKeys(string AccountId)
{
    private string Tag => "{acct:" + AccountId + "}";

    public RedisKey Account => Tag;
    public RedisKey Holds => Tag + ":holds";
    public RedisKey HoldExpiry => Tag + ":hold_exp";
    public RedisKey GrantOrder => Tag + ":grant_order";
    public RedisKey Grants => Tag + ":grants";
    public RedisKey Ledger => Tag + ":ledger";
    public RedisKey Outbox => Tag + ":outbox";
    public RedisKey OutboxDue => Tag + ":outbox_due";
    public RedisKey Key(string keyId) => Tag + ":key:" + keyId;
    public RedisKey Settled(string requestId) => Tag + ":settled:" + requestId;
    public RedisKey UsageDay(string yyyymmdd) => Tag + ":usage:" + yyyymmdd;
    public RedisKey UsageHour(string yyyymmddhh) => Tag + ":usage_h:" + yyyymmddhh;
    public RedisKey UsageMinute(string yyyymmddhhmm) => Tag + ":usage_m:" + yyyymmddhhmm;
    /// <summary>Projects of the account: project id → <c>{"name","created_ms","archived_ms"}</c>. Their limits live in the account hash.</summary>
    public RedisKey Projects => Tag + ":projects";
    /// <summary>Rate-limit state (GCRA buckets, requests in flight, what each request holds of them): ratelimit.lua names it from the account hash's key.</summary>
    public RedisKey RateLimitState => Tag + ":rl";
    public RedisKey Idempotency(string idempotencyKey) => Tag + ":idem:" + idempotencyKey;
    /// <summary>A team admin's credit requests: request id → JSON (status pending, approved or refused).</summary>
    public RedisKey CreditRequests => Tag + ":credit_requests";

    /// <summary>The eight keys every account script starts with (see prelude.lua), then <paramref name="more"/>.</summary>
    public RedisKey[] ScriptKeys(params RedisKey[] more) => [Account, Holds, HoldExpiry, GrantOrder, Grants, Ledger, Outbox, OutboxDue, .. more];

    /// <summary>Global (untagged) directories: key hash → "account|keyId", key id → account.</summary>
    public static readonly RedisKey KeysBySecret = "tg:keys";
    public static readonly RedisKey KeysById = "tg:key_ids";
    public static readonly RedisKey AccountIds = "tg:accounts";
}
