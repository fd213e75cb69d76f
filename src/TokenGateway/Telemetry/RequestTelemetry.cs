using System.Diagnostics;
using TokenGateway.Metering;

namespace TokenGateway.Telemetry;

/// <summary>
/// Metrics and spans of one metered request: a <c>proxy</c> span with <c>reserve</c>, <c>upstream</c> and
/// <c>settle</c> children, their durations, and on <see cref="Dispose"/> the request's outcome and the
/// time the gateway itself added. Labels and span tags: account, model, outcome — never key material.
/// </summary>
internal sealed class RequestTelemetry : IDisposable
{
    private readonly GatewayMetrics _metrics;
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly Activity? _activity;
    private TimeSpan _upstream;
    private bool _forwarded;

    public RequestTelemetry(GatewayMetrics metrics)
    {
        _metrics = metrics;
        _activity = GatewayTracing.Source.StartActivity("proxy");
    }

    public string Account { get; set; } = "";

    /// <summary>Set once the model is known to be priced, so arbitrary client strings never become labels.</summary>
    public string Model { get; set; } = "";

    /// <summary>Null for requests that are not metered (the model list, unknown URLs): not counted.</summary>
    public string? Outcome { get; set; }

    /// <summary>What the request was doing when Redis failed: key_lookup, reserve or settle.</summary>
    public RequestStage Stage { get; private set; } = RequestStage.KeyLookup;

    /// <summary>Times a stage and wraps it in a child span; dispose the result when the stage ends.</summary>
    public StageScope Begin(RequestStage stage)
    {
        Stage = stage;
        return new StageScope(this, stage, GatewayTracing.Source.StartActivity(StageName(stage)), Stopwatch.GetTimestamp());
    }

    /// <summary>Streams: the first bytes reached the client at <paramref name="timestamp"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public void FirstByte(long timestamp)
    {
        if (timestamp != 0) _metrics.TimeToFirstToken.Record(Stopwatch.GetElapsedTime(_start, timestamp).TotalSeconds, new KeyValuePair<string, object?>("model", Model));
    }

    public void Usage(MeteredEndpoint endpoint, TokenUsage usage, long costMicros) => _metrics.Usage(Account, Model, endpoint, usage, costMicros);

    public void RedisFailed(bool storeFull = false)
    {
        Outcome = storeFull ? RequestOutcome.BillingStoreFull : RequestOutcome.BillingUnavailable;
        _metrics.RedisError(StageName(Stage));
    }

    public void Dispose()
    {
        if (Outcome is not null)
        {
            _metrics.Request(Account, Model, Outcome);
            if (_forwarded) _metrics.Overhead.Record(Math.Max(0, (Stopwatch.GetElapsedTime(_start) - _upstream).TotalSeconds));
        }
        if (_activity is null) return;
        _activity.SetTag("account", Account);
        _activity.SetTag("model", Model);
        _activity.SetTag("outcome", Outcome);
        if (Outcome is RequestOutcome.UpstreamError or RequestOutcome.BillingUnavailable or RequestOutcome.BillingStoreFull) _activity.SetStatus(ActivityStatusCode.Error, Outcome);
        _activity.Dispose();
    }

    private void End(in StageScope scope)
    {
        var elapsed = Stopwatch.GetElapsedTime(scope.Start);
        switch (scope.Stage)
        {
            case RequestStage.Reserve:
                _metrics.ReserveDuration.Record(elapsed.TotalSeconds);
                break;
            case RequestStage.Upstream:
                _forwarded = true;
                _upstream += elapsed;
                _metrics.UpstreamDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("model", Model));
                break;
            case RequestStage.Settle:
                _metrics.SettleDuration.Record(elapsed.TotalSeconds);
                break;
        }
        if (scope.Activity is { } activity)
        {
            activity.SetTag("model", Model);
            activity.SetTag("account", Account);
            activity.Dispose();
        }
    }

    private static string StageName(RequestStage stage) => stage switch
    {
        RequestStage.KeyLookup => "key_lookup",
        RequestStage.Reserve => "reserve",
        RequestStage.Upstream => "upstream",
        _ => "settle",
    };

    public readonly struct StageScope(RequestTelemetry owner, RequestStage stage, Activity? activity, long start) : IDisposable
    {
        public RequestStage Stage => stage;
        public Activity? Activity => activity;
        public long Start => start;

        public void Dispose() => owner.End(this);
    }
}

internal enum RequestStage { KeyLookup, Reserve, Upstream, Settle }
