using System.Diagnostics;
using System.Diagnostics.Metrics;
using TokenGateway.Metering;

namespace TokenGateway.Telemetry;

/// <summary>
/// The gateway's one <see cref="Meter"/> ("TokenGateway") and its instruments. /metrics and OTLP export the
/// same instruments (see <see cref="TelemetryExtensions"/>).
/// Labels are bounded: account ids and priced model names, never request ids or key material.
/// </summary>
internal sealed class GatewayMetrics
{
    public const string MeterName = "TokenGateway";

    // NOTE: reserve, settle and the gateway's own time are Redis round trips and parsing (sub-millisecond
    // to milliseconds); upstream calls and first tokens take seconds to minutes.
    private static readonly double[] FastSeconds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
    private static readonly double[] SlowSeconds = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
    // NOTE: the GenAI semantic conventions advise these boundaries for gen_ai.client.token.usage.
    private static readonly double[] TokenCounts = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _redisErrors;
    private readonly Counter<long> _billingNotifications;
    private readonly Counter<long> _holdOverruns;
    private readonly Counter<long> _settlesQueued;
    private readonly Counter<long> _settlesReplayed;
    private readonly Counter<long> _rateLimited;
    private readonly Histogram<long> _genAiTokens;

    public GatewayMetrics(IMeterFactory meterFactory, AccountBalances balances)
    {
        var meter = meterFactory.Create(MeterName);
        _tokens = meter.CreateCounter<long>("tokengateway.tokens", "{token}",
            "Tokens billed, by type: input (uncached prompt), cached (cached prompt), output; the three add up to the request's total.");
        // NOTE: "usd" in lower case: the Prometheus exporter appends a unit it does not know verbatim, and the
        // dashboard reads tokengateway_cost_usd_total, tokengateway_balance_usd, tokengateway_held_usd.
        _cost = meter.CreateCounter<double>("tokengateway.cost", "usd", "Amount charged to accounts (the exact micro-USD charges, in USD).");
        _requests = meter.CreateCounter<long>("tokengateway.requests", "{request}", "Requests to the metered endpoints, by outcome.");
        _redisErrors = meter.CreateCounter<long>("tokengateway.redis.errors", "{error}", "Redis errors and timeouts, by operation.");
        _billingNotifications = meter.CreateCounter<long>("tokengateway.billing.notifications", "{event}",
            "Billing events raised (soft limit crossed, auto-recharge requested/succeeded/failed/limit reached), by account and kind.");
        _holdOverruns = meter.CreateCounter<long>("tokengateway.hold.overruns", "{request}",
            "Requests the upstream billed beyond their hold (more input than its bound, or a cost above it): charged in full, and a hold rule to fix.");
        _settlesQueued = meter.CreateCounter<long>("tokengateway.settles.queued", "{settle}",
            "Settles and releases Redis could not take when their request ended, written to the local settle journal.");
        _settlesReplayed = meter.CreateCounter<long>("tokengateway.settles.replayed", "{settle}",
            "Settles of the local settle journal Redis has since accepted (queued minus replayed is what is still waiting).");
        _rateLimited = meter.CreateCounter<long>("tokengateway.rate_limited", "{request}",
            "Requests refused by a rate limit, by account, limit (rpm, tpm, rpd, in_flight) and scope (key, project, account).");
        meter.CreateObservableGauge("tokengateway.balance", balances.Balances, "usd", "Account balance as stored in Redis (refreshed every few seconds; the same on every replica).");
        meter.CreateObservableGauge("tokengateway.held", balances.Held, "usd", "Amount held by in-flight requests of the account, as stored in Redis.");
        ReserveDuration = Seconds(meter, "tokengateway.reserve.duration", FastSeconds, "Duration of the reserve script (one Redis round trip).");
        SettleDuration = Seconds(meter, "tokengateway.settle.duration", FastSeconds, "Duration of settling a request (one Redis round trip, more on retries).");
        Overhead = Seconds(meter, "tokengateway.overhead", FastSeconds, "Time a forwarded request spent in the gateway, excluding the upstream call.");
        UpstreamDuration = Seconds(meter, "tokengateway.upstream.duration", SlowSeconds, "Duration of the upstream call, until the last byte reached the client.");
        TimeToFirstToken = Seconds(meter, "tokengateway.time_to_first_token", SlowSeconds, "Streams: time from the request's arrival to the first bytes written to the client.");
        _genAiTokens = meter.CreateHistogram("gen_ai.client.token.usage", "{token}", "Tokens used per request (GenAI semantic conventions).",
            tags: null, advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [.. TokenCounts.Select(b => (long)b)] });
    }

    /// <summary>The instruments labelled by account, whose series grow with the number of accounts.</summary>
    public static bool IsPerAccount(Instrument instrument) => instrument.Meter.Name == MeterName && instrument.Name is
        "tokengateway.tokens" or "tokengateway.cost" or "tokengateway.requests" or "tokengateway.billing.notifications"
        or "tokengateway.hold.overruns" or "tokengateway.rate_limited" or "tokengateway.balance" or "tokengateway.held";

    public Histogram<double> ReserveDuration { get; }
    public Histogram<double> SettleDuration { get; }
    public Histogram<double> Overhead { get; }
    public Histogram<double> UpstreamDuration { get; }
    public Histogram<double> TimeToFirstToken { get; }

    public void Request(string account, string model, string outcome) =>
        _requests.Add(1, new TagList { { "account", account }, { "model", model }, { "outcome", outcome } });

    /// <summary>Once per billing event (its first delivery attempt), whatever the number of retries.</summary>
    public void BillingNotification(string account, string kind) =>
        _billingNotifications.Add(1, new TagList { { "account", account }, { "kind", kind } });

    /// <summary>A request billed beyond its hold (see MeteredProxy.CheckHold).</summary>
    public void HoldOverrun(string account, string model) =>
        _holdOverruns.Add(1, new TagList { { "account", account }, { "model", model } });

    /// <summary>A settle (or release) written to the settle journal; <paramref name="operation"/> is settle or release.</summary>
    public void SettleQueued(string operation) => _settlesQueued.Add(1, new KeyValuePair<string, object?>("operation", operation));

    public void SettleReplayed() => _settlesReplayed.Add(1);

    /// <summary>A rate-limit 429. <paramref name="limit"/> and <paramref name="scope"/> are fixed names (RateLimitRefusal.Label, ScopeLabel).</summary>
    public void RateLimited(string account, string limit, string scope) =>
        _rateLimited.Add(1, new TagList { { "account", account }, { "limit", limit }, { "scope", scope } });

    public void RedisError(string operation) => _redisErrors.Add(1, new KeyValuePair<string, object?>("operation", operation));

    /// <summary>What a settled request used and cost. <paramref name="costMicros"/> is the exact charge.</summary>
    public void Usage(string account, string model, MeteredEndpoint endpoint, TokenUsage usage, long costMicros)
    {
        var cached = Math.Clamp(usage.Cached, 0, usage.Input);
        AddTokens(account, model, "input", usage.Input - cached);
        AddTokens(account, model, "cached", cached);
        AddTokens(account, model, "output", usage.Output);
        if (costMicros != 0) _cost.Add(costMicros / 1_000_000d, new TagList { { "account", account }, { "model", model } });

        var operation = endpoint switch
        {
            MeteredEndpoint.Embeddings => "embeddings",
            MeteredEndpoint.Completions => "text_completion",
            _ => "chat",
        };
        _genAiTokens.Record(usage.Input, new TagList { { "gen_ai.operation.name", operation }, { "gen_ai.request.model", model }, { "gen_ai.token.type", "input" } });
        if (endpoint != MeteredEndpoint.Embeddings)
            _genAiTokens.Record(usage.Output, new TagList { { "gen_ai.operation.name", operation }, { "gen_ai.request.model", model }, { "gen_ai.token.type", "output" } });
    }

    private void AddTokens(string account, string model, string type, long count)
    {
        if (count > 0) _tokens.Add(count, new TagList { { "account", account }, { "model", model }, { "type", type } });
    }

    private static Histogram<double> Seconds(Meter meter, string name, double[] buckets, string description) =>
        meter.CreateHistogram(name, "s", description, tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });
}
