using System.Diagnostics;
using System.Diagnostics.Metrics;
using TokenGateway.Telemetry;

namespace TokenGateway.Tests.Telemetry;

/// <summary>The /metrics text: names, label escaping, histograms, observable instruments, concurrency.</summary>
public sealed class PrometheusTextWriterTests : IDisposable
{
    // NOTE: a meter name of this test's own, so measurements of other tests never show up here.
    private readonly Meter _meter = new("TokenGateway.Tests." + Guid.NewGuid().ToString("N"));
    private readonly MetricsCollector _collector;

    public PrometheusTextWriterTests() => _collector = new MetricsCollector(_meter.Name);

    public void Dispose()
    {
        _collector.Dispose();
        _meter.Dispose();
    }

    [Theory]
    [InlineData("tokengateway.tokens", "{token}", true, "tokengateway_tokens_total")]
    [InlineData("tokengateway.cost", "USD", true, "tokengateway_cost_usd_total")]
    [InlineData("tokengateway.balance", "USD", false, "tokengateway_balance_usd")]
    [InlineData("tokengateway.reserve.duration", "s", false, "tokengateway_reserve_duration_seconds")]
    [InlineData("tokengateway.time_to_first_token", "s", false, "tokengateway_time_to_first_token_seconds")]
    [InlineData("gen_ai.client.token.usage", "{token}", false, "gen_ai_client_token_usage")]
    [InlineData("tokengateway.billing.notifications", null, true, "tokengateway_billing_notifications_total")]
    [InlineData("http.server.request.duration_seconds", "s", false, "http_server_request_duration_seconds")]
    [InlineData("my-app.bytes_total", "By", true, "my_app_bytes_total_bytes_total")]
    [InlineData("queue.size", "By", false, "queue_size_bytes")]
    [InlineData("ratio", "1", false, "ratio")]
    [InlineData("9lives", "", false, "_9lives")]
    public void MetricName_FollowsTheDocumentedRule(string instrument, string? unit, bool counter, string expected) =>
        Assert.Equal(expected, PrometheusTextWriter.MetricName(instrument, unit, counter));

    [Fact]
    public void Counter_HasHelpTypeAndTotal_AndTagOrderDoesNotSplitSeries()
    {
        var counter = _meter.CreateCounter<long>("test.tokens", "{token}", "Tokens\nbilled \\ counted");

        counter.Add(5, new("account", "a"), new("type", "input"));
        counter.Add(7, new("type", "input"), new("account", "a"));
        counter.Add(1, new("account", "b"), new("type", "input"));

        var text = _collector.Scrape();
        Assert.Contains("# HELP test_tokens_total Tokens\\nbilled \\\\ counted\n", text);
        Assert.Contains("# TYPE test_tokens_total counter\n", text);
        Assert.Contains("test_tokens_total{account=\"a\",type=\"input\"} 12\n", text);
        Assert.Contains("test_tokens_total{account=\"b\",type=\"input\"} 1\n", text);
    }

    [Fact]
    public void LabelValues_AreEscaped_AndLabelNamesSanitized()
    {
        var counter = _meter.CreateCounter<double>("test.cost", "USD");

        counter.Add(0.25, new KeyValuePair<string, object?>("gen_ai.request.model", "a\"b\\c\nd"), new("n", 3));

        var text = _collector.Scrape();
        Assert.Contains("test_cost_usd_total{gen_ai_request_model=\"a\\\"b\\\\c\\nd\",n=\"3\"} 0.25\n", text);
        Assert.Equal(0.25, MetricsText.Value(text, "test_cost_usd_total", ("gen_ai_request_model", "a\"b\\c\nd"), ("n", "3")));
    }

    [Fact]
    public void Histogram_HasCumulativeBuckets_WithInf_SumAndCount()
    {
        var histogram = _meter.CreateHistogram("test.duration", "s", "Latency.", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1, 2] });

        foreach (var v in new[] { 0.1, 0.5, 0.5, 3 }) histogram.Record(v, new KeyValuePair<string, object?>("model", "m"));

        var text = _collector.Scrape();
        Assert.Contains("# TYPE test_duration_seconds histogram\n", text);
        Assert.Contains("""
            test_duration_seconds_bucket{model="m",le="0.1"} 1
            test_duration_seconds_bucket{model="m",le="1"} 3
            test_duration_seconds_bucket{model="m",le="2"} 3
            test_duration_seconds_bucket{model="m",le="+Inf"} 4
            test_duration_seconds_sum{model="m"} 4.1
            test_duration_seconds_count{model="m"} 4

            """.ReplaceLineEndings("\n"), text);
    }

    [Fact]
    public void HistogramWithoutAdvice_InSeconds_GetsSecondsScaleBuckets()
    {
        _meter.CreateHistogram<double>("test.wait", "s").Record(0.003);

        var text = _collector.Scrape();
        Assert.Contains("test_wait_seconds_bucket{le=\"0.005\"} 1\n", text);
        Assert.Contains("test_wait_seconds_bucket{le=\"+Inf\"} 1\n", text);
    }

    [Fact]
    public void ObservableGauge_ShowsCurrentValues_AndDropsSeriesNoLongerReported()
    {
        var values = new Dictionary<string, double> { ["a"] = 1.5, ["b"] = -2 };
        _meter.CreateObservableGauge("test.balance", () => values.Select(v => new Measurement<double>(v.Value, new KeyValuePair<string, object?>("account", v.Key))).ToList(), "USD");

        var first = _collector.Scrape();
        values.Remove("b");
        values["a"] = 3;
        var second = _collector.Scrape();

        Assert.Contains("# TYPE test_balance_usd gauge\n", first);
        Assert.Equal(-2, MetricsText.Value(first, "test_balance_usd", ("account", "b")));
        Assert.Equal(3, MetricsText.Value(second, "test_balance_usd", ("account", "a")));
        Assert.Null(MetricsText.Value(second, "test_balance_usd", ("account", "b")));
    }

    [Fact]
    public void ConcurrentRecording_LosesNothing()
    {
        var counter = _meter.CreateCounter<double>("test.parallel");
        var histogram = _meter.CreateHistogram<long>("test.sizes");

        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                counter.Add(0.5, new KeyValuePair<string, object?>("k", i % 2 == 0 ? "even" : "odd"));
                histogram.Record(i % 10);
            }
        });

        var text = _collector.Scrape();
        Assert.Equal(40_000, MetricsText.Value(text, "test_parallel_total", ("k", "even")));
        Assert.Equal(40_000, MetricsText.Value(text, "test_parallel_total", ("k", "odd")));
        Assert.Equal(160_000, MetricsText.Value(text, "test_sizes_count"));
        Assert.Equal(8 * 2_000 * 45, MetricsText.Value(text, "test_sizes_sum"));
    }

    [Fact]
    public void AnyInstrumentOfAnyMeterNamedTokenGateway_IsExposed()
    {
        // NOTE: what the billing code does when it adds a counter of its own, outside GatewayMetrics.
        using var meter = new Meter(GatewayMetrics.MeterName);
        using var collector = new MetricsCollector();
        var account = "acct-" + Guid.NewGuid().ToString("N")[..8];

        meter.CreateCounter<long>("tokengateway.billing.notifications").Add(1, new("account", account), new("kind", "low_balance"));

        Assert.Equal(1, MetricsText.Value(collector.Scrape(), "tokengateway_billing_notifications_total", ("account", account), ("kind", "low_balance")));
    }

    [Fact]
    public void RecordingAnExistingSeries_DoesNotAllocate()
    {
        var counter = _meter.CreateCounter<long>("test.hot");
        var histogram = _meter.CreateHistogram("test.hot.duration", "s", null, null, new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.01] });
        void Record()
        {
            counter.Add(1, new TagList { { "account", "a" }, { "model", "m" }, { "outcome", "ok" } });
            histogram.Record(0.002, new KeyValuePair<string, object?>("model", "m"));
        }
        Record();

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++) Record();

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
