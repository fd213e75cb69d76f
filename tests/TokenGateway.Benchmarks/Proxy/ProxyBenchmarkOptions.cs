using System.Globalization;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>Command line of <c>proxy</c>: <c>--duration 20 --warmup 5 --connections 1,32 --threads 1 …</c>.</summary>
internal sealed record ProxyBenchmarkOptions
{
    public int DurationSeconds { get; init; } = 20;
    public int WarmupSeconds { get; init; } = 5;
    public int[] Connections { get; init; } = [1, 32];
    public int WrkThreads { get; init; } = 1;

    /// <summary>CPU list for <c>taskset -c</c> around wrk; null leaves wrk to the scheduler.</summary>
    public string? WrkCpus { get; init; }

    /// <summary>A folder where <c>npm install @portkey-ai/gateway</c> ran; null skips that target.</summary>
    public string? PortkeyDir { get; init; }

    /// <summary>Requests per mode of the exact metering check that follows the timed runs.</summary>
    public int CheckRequests { get; init; } = 2000;

    /// <summary>
    /// Whether the mock gzips non-streaming answers for a client that accepts it (the gateway's client asks;
    /// wrk and the bare YARP client do not). On by default, as real upstreams do; off isolates the cost
    /// of that round trip.
    /// </summary>
    public bool MockGzip { get; init; } = true;

    /// <summary>Where the Markdown report is also written; null prints it only.</summary>
    public string? OutFile { get; init; }

    public const string Usage = """
        proxy [--duration S] [--warmup S] [--connections 1,32] [--threads N] [--wrk-cpus LIST]
              [--portkey DIR] [--check-requests N] [--no-gzip] [--out FILE]
        """;

    public static ProxyBenchmarkOptions Parse(string[] args)
    {
        var o = new ProxyBenchmarkOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.\n{Usage}");
            int Int() => int.Parse(Value(), CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--duration" => o with { DurationSeconds = Int() },
                "--warmup" => o with { WarmupSeconds = Int() },
                "--connections" => o with { Connections = Value().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() },
                "--threads" => o with { WrkThreads = Int() },
                "--wrk-cpus" => o with { WrkCpus = Value() },
                "--portkey" => o with { PortkeyDir = Path.GetFullPath(Value()) },
                "--check-requests" => o with { CheckRequests = Int() },
                "--no-gzip" => o with { MockGzip = false },
                "--out" => o with { OutFile = Path.GetFullPath(Value()) },
                _ => throw new ArgumentException($"Unknown option {args[i]}.\n{Usage}"),
            };
        }
        if (o.DurationSeconds <= 0 || o.WarmupSeconds < 0 || o.Connections.Any(c => c <= 0) || o.WrkThreads <= 0 || o.CheckRequests < 0)
            throw new ArgumentException($"Durations, connections and counts must be positive.\n{Usage}");
        // NOTE: wrk gives each thread connections/threads connections; fewer connections than threads fails.
        if (o.Connections.Any(c => c < o.WrkThreads)) throw new ArgumentException("Every --connections value must be at least --threads.");
        return o;
    }
}
