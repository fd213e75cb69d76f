using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;

namespace TokenGateway.Telemetry;

/// <summary>
/// The data behind <c>/metrics</c>: a <see cref="MeterListener"/> that aggregates every instrument of
/// every meter named <see cref="GatewayMetrics.MeterName"/> — whichever class created it — into
/// <see cref="MetricFamily"/>s, and renders them with <see cref="PrometheusTextWriter"/>.
/// </summary>
internal sealed class MetricsCollector : IDisposable
{
    private readonly string _meterName;
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, MetricFamily> _families = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<MetricFamily, bool> _observable = new();
    private readonly Lock _scrape = new();

    public MetricsCollector() : this(GatewayMetrics.MeterName)
    {
    }

    /// <param name="meterName">Tests listen to a meter of their own.</param>
    public MetricsCollector(string meterName)
    {
        _meterName = meterName;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == _meterName && FamilyOf(instrument) is { } family) listener.EnableMeasurementEvents(instrument, family);
        };
        _listener.SetMeasurementEventCallback<double>(static (_, v, tags, state) => ((MetricFamily)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, v, tags, state) => ((MetricFamily)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<long>(static (_, v, tags, state) => ((MetricFamily)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, v, tags, state) => ((MetricFamily)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<short>(static (_, v, tags, state) => ((MetricFamily)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<byte>(static (_, v, tags, state) => ((MetricFamily)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<decimal>(static (_, v, tags, state) => ((MetricFamily)state!).Record((double)v, tags));
        _listener.Start();
    }

    /// <summary>The current values in the text format; runs the observable instruments' callbacks first.</summary>
    public string Scrape()
    {
        lock (_scrape)
        {
            foreach (var family in _observable.Keys) family.Reset();
            _listener.RecordObservableInstruments();
            var output = new StringBuilder(4096);
            PrometheusTextWriter.Write(output, _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal));
            return output.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>
    /// The family an instrument records into. Instruments that map to the same name and kind share it
    /// (e.g. two hosts of one process, each with its meter); one of another kind under a taken name is ignored.
    /// </summary>
    private MetricFamily? FamilyOf(Instrument instrument)
    {
        var definition = instrument.GetType().IsGenericType ? instrument.GetType().GetGenericTypeDefinition() : null;
        var (type, counter) = definition switch
        {
            _ when definition == typeof(Counter<>) || definition == typeof(ObservableCounter<>) => (MetricType.Counter, true),
            _ when definition == typeof(Histogram<>) => (MetricType.Histogram, false),
            _ when definition == typeof(UpDownCounter<>) || definition == typeof(ObservableUpDownCounter<>)
                || definition == typeof(ObservableGauge<>) || definition == typeof(Gauge<>) => (MetricType.Gauge, false),
            _ => ((MetricType?)null, false),
        };
        if (type is not MetricType kind) return null;
        // NOTE: observable instruments report totals or current values; an up-down counter adds, like a counter.
        var lastValue = instrument.IsObservable || definition == typeof(Gauge<>);
        var name = PrometheusTextWriter.MetricName(instrument.Name, instrument.Unit, counter);
        var family = _families.GetOrAdd(name, _ => new MetricFamily(name, instrument.Description ?? "", kind, lastValue,
            kind == MetricType.Histogram ? Boundaries(instrument) : null));
        if (family.Type != kind || family.LastValue != lastValue) return null;
        if (instrument.IsObservable) _observable.TryAdd(family, true);
        return family;
    }

    /// <summary>The instrument's advised bucket boundaries, else seconds-scale ones for durations, else OpenTelemetry's defaults.</summary>
    private static double[] Boundaries(Instrument instrument)
    {
        IEnumerable<double>? advised = instrument switch
        {
            Instrument<double> d => d.Advice?.HistogramBucketBoundaries,
            Instrument<float> f => f.Advice?.HistogramBucketBoundaries?.Select(b => (double)b),
            Instrument<long> l => l.Advice?.HistogramBucketBoundaries?.Select(b => (double)b),
            Instrument<int> i => i.Advice?.HistogramBucketBoundaries?.Select(b => (double)b),
            _ => null,
        };
        if (advised is not null) return [.. advised.Order().Distinct()];
        return instrument.Unit == "s"
            ? [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
            : [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
    }
}
