namespace TokenGateway.Configuration;

/// <summary>Section <c>TokenGateway</c> of the ASP.NET Core configuration.</summary>
public sealed class GatewayOptions
{
    public const string Section = "TokenGateway";

    public UpstreamOptions Upstream { get; set; } = new();
    public RedisOptions Redis { get; set; } = new();
    public AdminOptions Admin { get; set; } = new();
    public PricingOptions Pricing { get; set; } = new();
    public BillingOptions Billing { get; set; } = new();
    public MeteringOptions Metering { get; set; } = new();
    public KeyOptions Keys { get; set; } = new();
}

public sealed class UpstreamOptions
{
    /// <summary>Origin of the OpenAI-compatible upstream; a trailing <c>/v1</c> is accepted.</summary>
    public string BaseUrl { get; set; } = "https://api.openai.com";
    public string? ApiKey { get; set; }
    /// <summary>Longest silence allowed from the upstream (reasoning models can think for minutes).</summary>
    public int TimeoutSeconds { get; set; } = 600;
    /// <summary><c>OpenAI-Organization</c> sent upstream in place of the client's; none sent when empty.</summary>
    public string? Organization { get; set; }
    /// <summary><c>OpenAI-Project</c> sent upstream in place of the client's; none sent when empty.</summary>
    public string? Project { get; set; }
    /// <summary>
    /// PEM file of a CA certificate (or bundle) the upstream's certificate may also chain to, e.g. a private CA;
    /// the system's trusted roots are accepted either way. Relative paths are resolved against the working directory.
    /// </summary>
    public string? CaCertificateFile { get; set; }
}

public sealed class RedisOptions
{
    /// <summary>A StackExchange.Redis configuration string.</summary>
    public string Configuration { get; set; } = "127.0.0.1:6379";

    /// <summary>Deadline of every Redis call (sync and async): past it a request is answered 503 billing_unavailable.</summary>
    public int TimeoutMilliseconds { get; set; } = 1000;
}

public sealed class AdminOptions
{
    /// <summary>Bearer token of the admin API; the admin API is off when empty.</summary>
    public string? Token { get; set; }
}

public sealed class PricingOptions
{
    /// <summary>Pricing JSON; relative paths are resolved against the application folder.</summary>
    public string File { get; set; } = "pricing.json";
}

public sealed class BillingOptions
{
    /// <summary>Where a developer who hit a 429 adds credits; quoted in the error message.</summary>
    public string Url { get; set; } = "";
    /// <summary>How far below zero a balance may go (in-flight requests finishing over their estimate).</summary>
    public decimal OverdraftUsd { get; set; }
    public decimal MinimumTopUpUsd { get; set; } = 5m;
    public int GrantExpiryDays { get; set; } = 365;
    /// <summary>Lifetime of a grant given without an expiry (top-ups, auto-recharges).</summary>
    public TimeSpan GrantLifetime => TimeSpan.FromDays(GrantExpiryDays);
    /// <summary>How often the sweep applies grant expiry and ledger retention to idle accounts and retries undelivered events.</summary>
    public int SweepSeconds { get; set; } = 60;
    public WebhookOptions Webhooks { get; set; } = new();
    public RetentionOptions Retention { get; set; } = new();
    public SettleJournalOptions SettleJournal { get; set; } = new();
}

/// <summary>
/// The durable local queue of settles Redis could not take when their request ended (down, stalled, full, a slot
/// moving): an append-only file per process, replayed in the background until Redis accepts each settle.
/// </summary>
public sealed class SettleJournalOptions
{
    /// <summary>
    /// Directory of the journal files; created when missing. Must survive a restart of the process (a volume in k8s/):
    /// a gateway replays on start-up what the files of stopped processes hold.
    /// </summary>
    public string Directory { get; set; } = Path.Combine(Path.GetTempPath(), "tokengateway", "settles");

    /// <summary>How often queued settles are tried again while Redis refuses them.</summary>
    public int ReplayMilliseconds { get; set; } = 1000;
}

/// <summary>
/// How long what requests leave in Redis is kept, so that Redis memory is bounded by traffic × retention
/// (sizing: docs/redis-memory.md). The balance, grants and limits never expire: they live in the account's hash.
/// </summary>
public sealed class RetentionOptions
{
    /// <summary>
    /// Ledger entries older than this are trimmed by the scripts that append to the ledger and by the sweep
    /// (approximately: Redis frees whole stream nodes, so up to ~100 older entries per account may stay a little longer).
    /// </summary>
    public int LedgerDays { get; set; } = 400;
    /// <summary>A day's usage-report hash expires this many days after the end of that day (UTC).</summary>
    public int UsageDays { get; set; } = 400;
    /// <summary>
    /// Lifetime of a settle's idempotency marker (<c>settled:&lt;request id&gt;</c>): a replay of the same settle within it
    /// charges nothing. Default (empty): twice <c>Metering:HoldTtlSeconds</c>; never less than it.
    /// </summary>
    public int? SettleMarkerSeconds { get; set; }

    public TimeSpan Ledger => TimeSpan.FromDays(LedgerDays);
    public TimeSpan Usage => TimeSpan.FromDays(UsageDays);
    public TimeSpan SettleMarker(int holdTtlSeconds) => TimeSpan.FromSeconds(SettleMarkerSeconds ?? 2L * holdTtlSeconds);
}

/// <summary>Signed webhooks to the company's systems: notifications, and approval of auto-recharges.</summary>
public sealed class WebhookOptions
{
    /// <summary>Receives notifications (soft limit crossed, auto-recharge succeeded/failed/limit reached); none sent when empty.</summary>
    public string Url { get; set; } = "";
    /// <summary>Approves auto-recharges of accounts in <c>webhook</c> mode with a 2xx answer.</summary>
    public string FundingUrl { get; set; } = "";
    /// <summary>HMAC-SHA256 key of the <c>TokenGateway-Signature</c> header; required with either URL.</summary>
    public string Secret { get; set; } = "";
    public int MaxAttempts { get; set; } = 8;
    /// <summary>First retry delay; each later one doubles, up to ten minutes.</summary>
    public int RetryBaseMilliseconds { get; set; } = 1000;
    public int TimeoutSeconds { get; set; } = 10;
}

public sealed class MeteringOptions
{
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024 * 1024;
    /// <summary>Lease of a hold: a hold whose request never settles is released after this.</summary>
    public int HoldTtlSeconds { get; set; } = 900;
    /// <summary>
    /// How often a replica renews the leases of its in-flight requests and records what each has consumed so far
    /// (charged if its lease ever ends: the replica died). Must be well under <see cref="HoldTtlSeconds"/> (at most a third).
    /// </summary>
    public int HeartbeatSeconds { get; set; } = 5;
    /// <summary>Smallest output limit the gateway lowers a request to before refusing it.</summary>
    public int MinimumOutputTokens { get; set; } = 16;
    /// <summary>
    /// Largest share of the room (what the balance, limits and budget still allow) one request without an output
    /// limit may hold: its output limit is lowered to fit (never below <see cref="MinimumOutputTokens"/>), so that
    /// concurrent requests share a small balance. 1 lets one request hold everything.
    /// </summary>
    public double MaxHoldShare { get; set; } = 0.5;
    /// <summary>Worst-case output of a model whose price entry has no <c>max_output_tokens</c>.</summary>
    public int DefaultMaxOutputTokens { get; set; } = 16384;
    /// <summary>Built-in tool calls (web search, file search) a hold assumes when a request offers such a tool without <c>max_tool_calls</c>.</summary>
    public int MaxToolCallsHeld { get; set; } = 16;
}

public sealed class KeyOptions
{
    /// <summary>How long the old secret keeps working after a rotation.</summary>
    public int RotationGraceSeconds { get; set; } = 86400;
}
