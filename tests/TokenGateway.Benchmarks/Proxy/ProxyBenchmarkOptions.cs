using System.Globalization;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>A further gateway arm: the same gateway in its own process with these environment variables (runtime knobs, settings).</summary>
internal sealed record GatewayVariant(string Name, IReadOnlyDictionary<string, string> Environment);

/// <summary>Command line of <c>proxy</c>: <c>--duration 20 --warmup 5 --jit-warmup 30 --connections 1,32 …</c>.</summary>
internal sealed record ProxyBenchmarkOptions
{
    public static readonly string[] AllCases = ["small", "stream", "8k", "64k", "ttft"];

    public int DurationSeconds { get; init; } = 20;

    /// <summary>Discarded load before each measured run (connection pools, caches).</summary>
    public int WarmupSeconds { get; init; } = 5;

    /// <summary>
    /// Load on each arm once, before the first measured run, spread over the load cases, so that tiered compilation has
    /// promoted the hot methods (a profile after 10 s still found the tiering thread busy; after 40–60 s, not).
    /// </summary>
    public int JitWarmupSeconds { get; init; } = 30;

    public int[] Connections { get; init; } = [1, 32];

    /// <summary>Connections of the 8 KB and 64 KB prompt cases.</summary>
    public int LargeConnections { get; init; } = 32;

    public HashSet<string> Cases { get; init; } = [.. AllCases];

    /// <summary>Connections of the paced-stream (time to first token) runs.</summary>
    public int TtftConnections { get; init; } = 4;

    /// <summary>Pause of the mock before each content delta in the paced-stream runs.</summary>
    public int PaceMilliseconds { get; init; } = 20;

    public List<GatewayVariant> Variants { get; init; } = [];

    public int WrkThreads { get; init; } = 1;

    /// <summary>CPU list for <c>taskset -c</c> around wrk; null leaves wrk to the scheduler.</summary>
    public string? WrkCpus { get; init; }

    /// <summary>A folder where <c>npm install @portkey-ai/gateway</c> ran; null skips that target.</summary>
    public string? PortkeyDir { get; init; }

    /// <summary>Requests per gateway arm and load case of the exact metering check that follows the timed runs.</summary>
    public int CheckRequests { get; init; } = 2000;

    /// <summary>
    /// Whether the mock gzips non-streaming answers for a client that accepts it (the gateway's client asks; wrk and the
    /// bare YARP client do not). On by default, as real upstreams do; off isolates the cost of that round trip.
    /// </summary>
    public bool MockGzip { get; init; } = true;

    /// <summary>
    /// The mock serves HTTPS (self-signed, trusted by the proxies from a PEM file), as a real upstream does: the proxies then
    /// negotiate HTTP/2 with it by ALPN (YARP's default request version), where plain HTTP stays on HTTP/1.1.
    /// </summary>
    public bool MockHttps { get; init; }

    /// <summary>
    /// <c>all</c> or <c>typical</c>: adds the target <c>gateway+rl</c>, the default gateway arm with the key of a second
    /// account whose key and account have rate limits so high that none refuses (see GatewayAdmin), interleaved with the
    /// others: each of its requests pays the limit check and correction (issue 16: no extra round trip, RPS within 5 %).
    /// Null: no limits.
    /// </summary>
    public string? RateLimits { get; init; }

    /// <summary>
    /// Times each load case's targets run in turn (default 1): with more, every comparison is given per round and as the
    /// median of the rounds' ratios, so that a small difference (issue 16's 5 %) is read against the rounds' spread.
    /// </summary>
    public int Rounds { get; init; } = 1;

    /// <summary>
    /// Adds the target <c>yarp+redis</c>: a second bare-YARP arm that makes the gateway's two Redis round trips per request,
    /// each an EVALSHA of a one-line script (the floor of the two-round-trip design, issue 14), interleaved with the others.
    /// </summary>
    public bool Floor { get; init; }

    /// <summary>Adds the target <c>yarp+ping</c>: the same with a PING for each round trip (the round trip without Lua).</summary>
    public bool FloorPing { get; init; }

    /// <summary>Where the Markdown report is also written; null prints it only.</summary>
    public string? OutFile { get; init; }

    public const string Usage = """
        proxy [--duration S] [--warmup S] [--jit-warmup S] [--connections 1,32] [--large-connections N]
              [--cases small,stream,8k,64k,ttft] [--ttft-connections N] [--pace-ms MS]
              [--variant NAME:VAR=VALUE[,VAR=VALUE…]]… [--threads N] [--wrk-cpus LIST]
              [--portkey DIR] [--check-requests N] [--no-gzip] [--mock-https] [--rate-limits all|typical] [--rounds N]
              [--floor] [--floor-ping] [--out FILE]
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
                "--jit-warmup" => o with { JitWarmupSeconds = Int() },
                "--connections" => o with { Connections = Value().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() },
                "--large-connections" => o with { LargeConnections = Int() },
                "--cases" => o with { Cases = [.. Value().Split(',')] },
                "--ttft-connections" => o with { TtftConnections = Int() },
                "--pace-ms" => o with { PaceMilliseconds = Int() },
                "--variant" => o with { Variants = [.. o.Variants, ParseVariant(Value())] },
                "--threads" => o with { WrkThreads = Int() },
                "--rounds" => o with { Rounds = Int() is var n and >= 1 ? n : throw new ArgumentException($"--rounds: 1 or more.\n{Usage}") },
                "--wrk-cpus" => o with { WrkCpus = Value() },
                "--portkey" => o with { PortkeyDir = Path.GetFullPath(Value()) },
                "--check-requests" => o with { CheckRequests = Int() },
                "--no-gzip" => o with { MockGzip = false },
                "--mock-https" => o with { MockHttps = true },
                "--rate-limits" => o with { RateLimits = Value() is var mode && mode is "all" or "typical" ? mode : throw new ArgumentException($"--rate-limits: all or typical.\n{Usage}") },
                "--floor" => o with { Floor = true },
                "--floor-ping" => o with { FloorPing = true },
                "--out" => o with { OutFile = Path.GetFullPath(Value()) },
                _ => throw new ArgumentException($"Unknown option {args[i]}.\n{Usage}"),
            };
        }
        if (o.DurationSeconds <= 0 || o.WarmupSeconds < 0 || o.JitWarmupSeconds < 0 || o.Connections.Any(c => c <= 0) || o.LargeConnections <= 0
            || o.TtftConnections <= 0 || o.PaceMilliseconds < 0 || o.WrkThreads <= 0 || o.CheckRequests < 0)
            throw new ArgumentException($"Durations, connections and counts must be positive.\n{Usage}");
        if (o.Cases.Except(AllCases).FirstOrDefault() is { } unknown) throw new ArgumentException($"Unknown case {unknown}: choose from {string.Join(',', AllCases)}.");
        if (o.Variants.Select(v => v.Name).Distinct().Count() != o.Variants.Count) throw new ArgumentException("Two variants have the same name.");
        // NOTE: wrk gives each thread connections/threads connections; fewer connections than threads fails.
        if (o.Connections.Append(o.LargeConnections).Any(c => c < o.WrkThreads)) throw new ArgumentException("Every connection count must be at least --threads.");
        return o;
    }

    /// <summary><c>pgo-off:DOTNET_TieredPGO=0</c> → the arm <c>gateway[pgo-off]</c> with that variable.</summary>
    private static GatewayVariant ParseVariant(string text)
    {
        var colon = text.IndexOf(':');
        if (colon <= 0) throw new ArgumentException($"--variant {text}: expected NAME:VAR=VALUE[,VAR=VALUE…].");
        var environment = new Dictionary<string, string>();
        foreach (var pair in text[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--variant {text}: '{pair}' is not VAR=VALUE.");
            environment[pair[..eq]] = pair[(eq + 1)..];
        }
        return new GatewayVariant(text[..colon], environment);
    }
}
