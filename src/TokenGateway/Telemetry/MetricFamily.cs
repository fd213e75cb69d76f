using System.Collections.Concurrent;

namespace TokenGateway.Telemetry;

internal enum MetricType { Counter, Gauge, Histogram }

/// <summary>
/// Everything recorded for one Prometheus metric name, one <see cref="MetricSeries"/> per label set.
/// Recording is lock-free: a dictionary lookup that does not allocate once the series exists, then
/// interlocked updates.
/// </summary>
internal sealed class MetricFamily
{
    private ConcurrentDictionary<TagSet, MetricSeries> _series = new(TagSet.Comparer.Instance);

    public MetricFamily(string name, string help, MetricType type, bool lastValue, double[]? bounds = null)
    {
        Name = name;
        Help = help;
        Type = type;
        LastValue = lastValue;
        Bounds = bounds ?? [];
    }

    public string Name { get; }
    public string Help { get; }
    public MetricType Type { get; }

    /// <summary>Observable instruments and gauges report a current value, which replaces the previous one.</summary>
    public bool LastValue { get; }

    /// <summary>Histogram bucket upper bounds (inclusive, ascending, without +Inf).</summary>
    public double[] Bounds { get; }

    public IEnumerable<KeyValuePair<TagSet, MetricSeries>> Series => _series;

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var series = _series;
        if (!series.GetAlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>>().TryGetValue(tags, out var s))
        {
            s = series.GetOrAdd(TagSet.Create(tags), _ => new MetricSeries(Type == MetricType.Histogram ? Bounds.Length + 1 : 0));
        }
        if (Type == MetricType.Histogram) s.Observe(value, Bounds);
        else if (LastValue) s.Set(value);
        else s.Add(value);
    }

    /// <summary>Before the callbacks of an observable instrument run: only the series they report now are shown.</summary>
    public void Reset() => _series = new(TagSet.Comparer.Instance);
}

/// <summary>One series: a value (counter, gauge) or buckets, sum and count (histogram).</summary>
internal sealed class MetricSeries(int buckets)
{
    // NOTE: doubles are kept as their bits so that CompareExchange compares bits: a NaN never equals itself.
    private long _value;
    private long _sum;
    private readonly long[] _buckets = new long[buckets];

    public double Value => BitConverter.Int64BitsToDouble(Volatile.Read(ref _value));
    public double Sum => BitConverter.Int64BitsToDouble(Volatile.Read(ref _sum));

    /// <summary>Per-bucket counts (not cumulative); the last is the +Inf bucket.</summary>
    public long[] BucketCounts() => [.. _buckets.Select((_, i) => Volatile.Read(ref _buckets[i]))];

    public void Set(double value) => Volatile.Write(ref _value, BitConverter.DoubleToInt64Bits(value));

    public void Add(double value) => AddTo(ref _value, value);

    public void Observe(double value, double[] bounds)
    {
        // NOTE: a bucket's bound is inclusive (Prometheus "le"); BinarySearch gives the first bound ≥ value.
        var i = Array.BinarySearch(bounds, value);
        Interlocked.Increment(ref _buckets[i >= 0 ? i : ~i]);
        AddTo(ref _sum, value);
    }

    private static void AddTo(ref long bits, double value)
    {
        long seen, next;
        do
        {
            seen = Volatile.Read(ref bits);
            next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + value);
        }
        while (Interlocked.CompareExchange(ref bits, next, seen) != seen);
    }
}
