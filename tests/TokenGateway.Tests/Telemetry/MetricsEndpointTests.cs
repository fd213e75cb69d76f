using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using TokenGateway.Telemetry;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Telemetry;

/// <summary>
/// /metrics, /readyz and the spans of a real gateway (one per test) after known traffic. /metrics shows only
/// what its own host recorded (see <see cref="MetricsIsolationTests"/>), so histogram counts are exact.
/// </summary>
public sealed class MetricsEndpointTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Telemetry:BalanceRefreshSeconds"] = "0.2" });
        _gw.Upstream.Options.PromptTokens = 1234;
        _gw.Upstream.Options.CachedTokens = 1000;
        _gw.Upstream.Options.CompletionTokens = 567;
    }

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private static string NewAccount() => "acct-" + Guid.NewGuid().ToString("N")[..8];

    private const string Chat = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}""";

    [Fact]
    public async Task Metrics_AfterKnownTraffic_ShowExactTokensCostAndOutcomes()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account, 10m);

        Assert.Equal(HttpStatusCode.OK, (await _gw.PostAsync(key, "/v1/chat/completions", Chat)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gw.PostAsync(key, "/v1/chat/completions", Chat)).StatusCode);
        // An explicit output limit the balance cannot pay for: 429 insufficient_quota, nothing forwarded.
        var refused = await _gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o","max_tokens":5000000,"messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);

        var text = await WaitForAsync(t => Value(t, "tokengateway_requests_total", account, "gpt-4o-mini", ("outcome", "ok")) == 2);
        // Per request 1234 prompt tokens of which 1000 cached, 567 output: input counts the uncached part.
        Assert.Equal(2 * 234, Value(text, "tokengateway_tokens_total", account, "gpt-4o-mini", ("type", "input")));
        Assert.Equal(2 * 1000, Value(text, "tokengateway_tokens_total", account, "gpt-4o-mini", ("type", "cached")));
        Assert.Equal(2 * 567, Value(text, "tokengateway_tokens_total", account, "gpt-4o-mini", ("type", "output")));
        // 451 micro-USD each (see MeteredProxyTests), exposed in USD.
        Assert.Equal(2 * 451 / 1e6, Value(text, "tokengateway_cost_usd_total", account, "gpt-4o-mini")!.Value, 12);
        Assert.Equal(1, Value(text, "tokengateway_requests_total", account, "gpt-4o", ("outcome", "insufficient_quota")));
        Assert.Null(Value(text, "tokengateway_cost_usd_total", account, "gpt-4o"));
        Assert.Equal(2 * 451 / 1e6, 10 - await _gw.BalanceMicrosAsync(account) / 1e6, 12);

        // The balance gauge comes from Redis (the refresher runs every 0.2 s in this test).
        text = await WaitForAsync(t => MetricsText.Value(t, "tokengateway_balance_usd", ("account", account)) == 10 - 2 * 451 / 1e6);
        Assert.Equal(0, MetricsText.Value(text, "tokengateway_held_usd", ("account", account)));

        // Histograms of the hot path: the refused request was reserved (and refused there), never forwarded.
        Assert.Equal(3, MetricsText.Value(text, "tokengateway_reserve_duration_seconds_count"));
        Assert.Equal(2, MetricsText.Value(text, "tokengateway_settle_duration_seconds_count"));
        Assert.Equal(2, MetricsText.Value(text, "tokengateway_overhead_seconds_count"));
        Assert.Equal(2, MetricsText.Value(text, "tokengateway_upstream_duration_seconds_count", ("model", "gpt-4o-mini")));
        Assert.Equal(2, MetricsText.Value(text, "tokengateway_upstream_duration_seconds_bucket", ("model", "gpt-4o-mini"), ("le", "+Inf")));
        Assert.Equal(2 * 1234, MetricsText.Value(text, "gen_ai_client_token_usage_sum", ("gen_ai_operation_name", "chat"), ("gen_ai_request_model", "gpt-4o-mini"), ("gen_ai_token_type", "input")));
        Assert.DoesNotContain(key, text);
        Assert.DoesNotContain("req_", text);
    }

    [Fact]
    public async Task Metrics_StreamAndRefusals_HaveTheirOutcomesAndTimeToFirstToken()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account, 10m);

        var stream = await _gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4.1-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        await stream.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, (await _gw.PostAsync(key, "/v1/chat/completions", """{"model":"no-such-model","messages":[]}""")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _gw.PostAsync(key, "/v1/chat/completions", "{not json")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _gw.PostAsync("tg-not-a-real-key", "/v1/chat/completions", Chat)).StatusCode);

        var text = await WaitForAsync(t => Value(t, "tokengateway_requests_total", account, "gpt-4.1-mini", ("outcome", "ok")) == 1);
        Assert.Equal(567, Value(text, "tokengateway_tokens_total", account, "gpt-4.1-mini", ("type", "output")));
        // Unpriced model names are client input: they never become label values.
        Assert.Equal(1, Value(text, "tokengateway_requests_total", account, "", ("outcome", "model_not_priced")));
        Assert.Equal(1, Value(text, "tokengateway_requests_total", account, "", ("outcome", "invalid_request")));
        Assert.True(Value(text, "tokengateway_requests_total", "", "", ("outcome", "invalid_key")) >= 1);
        Assert.True(MetricsText.Value(text, "tokengateway_time_to_first_token_seconds_count", ("model", "gpt-4.1-mini")) >= 1);
        Assert.DoesNotContain("no-such-model", text);
    }

    [Fact]
    public async Task Metrics_UpstreamError_IsCountedAndNotCharged()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account, 10m);

        var r = await _gw.PostAsync(key, "/v1/embeddings", """{"model":"text-embedding-3-large","input":"x"}""", headers: [("x-mock-status", "503")]);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
        var text = await WaitForAsync(t => Value(t, "tokengateway_requests_total", account, "text-embedding-3-large", ("outcome", "upstream_error")) == 1);
        Assert.Null(Value(text, "tokengateway_cost_usd_total", account, "text-embedding-3-large"));
    }

    [Fact]
    public async Task Metrics_AskedForOpenMetrics_AnswerTextFormat004_UncachedAndNotStored()
    {
        var account = NewAccount();
        var metrics = _gw.Services.GetRequiredService<GatewayMetrics>();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        // What Prometheus 2.x sends: OpenMetrics first (it would add a _created series per counter).
        request.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");

        metrics.Request(account, "gpt-4o-mini", RequestOutcome.Ok);
        var r = await _gw.Http.SendAsync(request);
        var first = await r.Content.ReadAsStringAsync();
        metrics.Request(account, "gpt-4o-mini", RequestOutcome.Ok);
        var second = await _gw.Http.GetStringAsync("/metrics");

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", r.Content.Headers.ContentType!.ToString());
        Assert.Equal("no-store", r.Headers.CacheControl!.ToString());
        Assert.DoesNotContain("_created", first);
        Assert.DoesNotContain("otel_scope", first);
        Assert.DoesNotContain("target_info", first);
        // No scrape cache: the second scrape, right after the first, sees the second request.
        Assert.Equal(1, Value(first, "tokengateway_requests_total", account, "gpt-4o-mini", ("outcome", "ok")));
        Assert.Equal(2, Value(second, "tokengateway_requests_total", account, "gpt-4o-mini", ("outcome", "ok")));
    }

    [Fact]
    public async Task Metrics_MoreAccountsThanTheSdksDefaultLimit_EachKeepsItsSeries()
    {
        var metrics = _gw.Services.GetRequiredService<GatewayMetrics>();
        var prefix = NewAccount();

        // The OpenTelemetry SDK's default is 2,000 series per instrument; the per-account ones allow 10,000.
        for (var i = 0; i < 2_500; i++) metrics.Request($"{prefix}-{i}", "gpt-4o-mini", RequestOutcome.Ok);

        var text = await _gw.Http.GetStringAsync("/metrics");
        Assert.Equal(2_500, MetricsText.Samples(text).Count(s => s.Name == "tokengateway_requests_total" && s.Labels["account"].StartsWith(prefix, StringComparison.Ordinal)));
        Assert.DoesNotContain("otel_metric_overflow", text);
    }

    [Fact]
    public void Recording_AnExistingSeries_DoesNotAllocate()
    {
        var metrics = _gw.Services.GetRequiredService<GatewayMetrics>();
        var account = NewAccount();
        void Record()
        {
            metrics.Request(account, "gpt-4o-mini", RequestOutcome.Ok);
            metrics.UpstreamDuration.Record(0.002, new KeyValuePair<string, object?>("model", "gpt-4o-mini"));
        }
        // NOTE: warm up past first-use work (series creation, lazy SDK state, JIT tiering, which allocated 4.7 KB once in
        // a CI run), then require amortised zero: an allocating path costs ~100 B a call, 100 KB for these 1,000.
        for (var i = 0; i < 1000; i++) Record();

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++) Record();

        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 8 * 1024);
    }

    [Fact]
    public async Task Readyz_LoadsEveryLuaScript_AfterTheScriptCacheWasFlushed()
    {
        using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        await server.ScriptFlushAsync();
        var scripts = TokenGateway.Billing.Scripts.BillingScripts.All;
        Assert.True(scripts.Count >= 8);
        Assert.False(await server.ScriptExistsAsync(scripts[0]));

        var r = await _gw.Http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("ready", await r.Content.ReadAsStringAsync());
        foreach (var script in scripts) Assert.True(await server.ScriptExistsAsync(script));
    }

    [Fact]
    public async Task Readyz_RedisDown_Is503()
    {
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Redis:Configuration"] = $"127.0.0.1:{RedisServer.FreePort()},connectTimeout=200" });

        var r = await gw.Http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
    }

    [Fact]
    public async Task Traces_ProxySpan_HasReserveUpstreamSettleChildren_WithoutSecrets()
    {
        var account = NewAccount();
        var key = await _gw.FundedKeyAsync(account, 10m);
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "TokenGateway",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        Assert.Equal(HttpStatusCode.OK, (await _gw.PostAsync(key, "/v1/chat/completions", Chat)).StatusCode);

        Activity? proxy = null;
        for (var i = 0; i < 100 && proxy is null; i++, await Task.Delay(50))
            proxy = stopped.FirstOrDefault(a => a.OperationName == "proxy" && (string?)a.GetTagItem("account") == account);
        Assert.NotNull(proxy);
        Assert.Equal("gpt-4o-mini", proxy.GetTagItem("model"));
        Assert.Equal("ok", proxy.GetTagItem("outcome"));
        var children = stopped.Where(a => a.ParentSpanId == proxy.SpanId).Select(a => a.OperationName).ToList();
        Assert.Equal(["reserve", "upstream", "settle"], children);
        Assert.DoesNotContain(stopped.Where(a => a.TraceId == proxy.TraceId).SelectMany(a => a.Tags), t => t.Value is string v && v.Contains(key));
    }

    private static double? Value(string text, string name, string account, string model, params (string, string)[] more) =>
        MetricsText.Value(text, name, [("account", account), ("model", model), .. more]);

    /// <summary>Scrapes until <paramref name="done"/> holds: a request's metrics are recorded once it has settled, just after its response.</summary>
    private async Task<string> WaitForAsync(Func<string, bool> done)
    {
        var text = "";
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            var r = await _gw.Http.GetAsync("/metrics");
            Assert.Equal("text/plain; version=0.0.4; charset=utf-8", r.Content.Headers.ContentType!.ToString());
            Assert.Equal("no-store", r.Headers.CacheControl!.ToString());
            text = await r.Content.ReadAsStringAsync();
            if (done(text)) return text;
        }
        Assert.Fail("Metrics never showed the expected values:\n" + text);
        return text;
    }
}
