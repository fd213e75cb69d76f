using System.Globalization;
using System.Text;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>The Markdown report of one run: environment, a table per case, the comparisons, the metering checks.</summary>
internal sealed class Report(ProxyBenchmarkOptions options, IReadOnlyList<string> environment, long costMicros)
{
    private readonly List<Measurement> _runs = [];
    private readonly List<MeteringCheckResult> _checks = [];

    public void Add(Measurement m) => _runs.Add(m);
    public void Add(MeteringCheckResult c) => _checks.Add(c);

    private static bool IsGateway(string target) => target.StartsWith("gateway", StringComparison.Ordinal);

    /// <summary>A gateway, or a floor target (<c>yarp+redis</c>, <c>yarp+ping</c>: bare YARP with two Redis round trips).</summary>
    private static bool UsesRedis(string target) => IsGateway(target) || target.StartsWith("yarp+", StringComparison.Ordinal);

    public bool Passed => _checks.All(c => c.Passed) && _runs.Where(r => IsGateway(r.Target)).All(r =>
        r.Wrk is { } w ? w.Non200 == 0 && w.Incomplete == 0 : r.Ttft!.Non200 == 0 && r.Ttft.Incomplete == 0);

    public string Render()
    {
        var s = new StringBuilder();
        s.AppendLine("## Environment").AppendLine().AppendLine("```");
        foreach (var line in environment) s.AppendLine(line);
        s.AppendLine("```").AppendLine();
        s.AppendLine("Per request, for each arm's own process: `CPU µs` of the arm (utime + stime from /proc/PID/stat over the run ÷ requests),")
            .AppendLine("of the mock behind it and of redis-server; `alloc KB` from the arm's `GC.GetTotalAllocatedBytes(true)`; `GCs` gen0/1/2")
            .AppendLine("during the run; `RSS` peak and average of the arm (VmRSS every 100 ms); `GC heap` memory the GC had committed at the end; `Redis round trips` commands the gateway's Redis client sent")
            .AppendLine("(its `OperationCount`); `Redis cmds` commands redis-server processed, those its Lua scripts call included (`INFO stats`);")
            .AppendLine("`JIT` methods compiled during the measured run (≈ 0 once tiering has settled); `CPU other` cores used by the rest of the machine.")
            .AppendLine();
        foreach (var group in _runs.GroupBy(r => r.Case))
        {
            var runs = group.ToList();
            s.AppendLine($"## {group.Key.Title}").AppendLine();
            if (group.Key.Name == "ttft") RenderTtft(s, runs);
            else RenderLoad(s, runs);
            RenderComparisons(s, runs);
            RenderStages(s, runs);
        }
        RenderMetering(s);
        return s.ToString();
    }

    private static void RenderLoad(StringBuilder s, List<Measurement> runs)
    {
        s.AppendLine("| target | conns | req/s | p50 ms | p90 ms | p99 ms | non-200 / incomplete / socket err | CPU µs arm | CPU µs mock | CPU µs redis | alloc KB | GCs | RSS peak MB | RSS avg MB | GC heap MB | Redis round trips | Redis cmds | JIT methods | CPU wrk | CPU other | load |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in runs)
        {
            var w = r.Wrk!;
            s.AppendLine(Invariant($"| {r.Label} | {r.Connections} | {w.RequestsPerSecond:N0} | {w.P50:F2} | {w.P90:F2} | {w.P99:F2} | {w.Non200} / {w.Incomplete} / {w.SocketErrors} | {Costs(r)} | {Other(r):F2} | {r.LoadAverage:F2} |"));
        }
        s.AppendLine();
    }

    private static void RenderTtft(StringBuilder s, List<Measurement> runs)
    {
        s.AppendLine("Times from writing the request: to the first `data:` event (the role chunk, sent at once), to the first content delta (after one pause), and to the end of the stream.").AppendLine();
        s.AppendLine("| target | conns | streams/s | first event p50 ms | p99 ms | first token p50 ms | p99 ms | whole stream p50 ms | non-200 / incomplete | CPU µs arm | CPU µs mock | CPU µs redis | alloc KB | GCs | RSS peak MB | RSS avg MB | GC heap MB | Redis round trips | Redis cmds | JIT methods | CPU client | CPU other | load |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in runs)
        {
            var t = r.Ttft!;
            double P(double[] v, double p) => TtftResult.Percentile(v, p);
            s.AppendLine(Invariant($"| {r.Label} | {r.Connections} | {t.RequestsPerSecond:N1} | {P(t.FirstEvent, 50):F2} | {P(t.FirstEvent, 99):F2} | {P(t.FirstToken, 50):F2} | {P(t.FirstToken, 99):F2} | {P(t.Whole, 50):F1} | {t.Non200} / {t.Incomplete} | {Costs(r)} | {Other(r):F2} | {r.LoadAverage:F2} |"));
        }
        s.AppendLine();
    }

    /// <summary>The per-request cost columns, from "CPU µs arm" to the load generator's cores.</summary>
    private static string Costs(Measurement r)
    {
        var c = r.Cost;
        double PerRequest(double seconds) => seconds / r.Requests * 1e6;
        var mock = c.MockCpu == 0 ? "—" : Invariant($"{PerRequest(c.MockCpu):F0}");
        var redis = UsesRedis(r.Target) ? Invariant($"{PerRequest(c.RedisCpu):F0}") : "—";
        // NOTE: GC.GetTotalAllocatedBytes was seen to go backwards across a run under server GC with DATAS (heaps
        // removed as the load changes): a negative difference is shown as unknown, not as a figure.
        var alloc = c.Runtime is { } rt ? rt.AllocatedBytes < 0 ? "n/a" : Invariant($"{rt.AllocatedBytes / 1024.0 / r.Requests:F1}") : "—";
        var gcs = c.Runtime is { } g ? $"{g.Gen0}/{g.Gen1}/{g.Gen2}" : "—";
        var roundTrips = UsesRedis(r.Target) && c.Runtime is { } ops ? Invariant($"{(double)ops.RedisOperations / r.Requests:F2}") : "—";
        var commands = c.Redis is { } rd ? Invariant($"{(double)rd.Commands / r.Requests:F1}") : "—";
        var jit = c.Runtime is { } j ? Invariant($"{j.JitMethods}") : "—";
        var heap = c.Runtime is { } h ? Invariant($"{h.GcCommittedBytes / 1048576.0:F0}") : "—";
        return Invariant($"{PerRequest(c.ArmCpu):F0} | {mock} | {redis} | {alloc} | {gcs} | {c.RssPeak / 1048576.0:F0} | {c.RssAverage / 1048576.0:F0} | {heap} | {roundTrips} | {commands} | {jit} | {c.WrkCpu / r.Seconds:F2}");
    }

    /// <summary>Cores the rest of the machine used during the run: all busy time less the arm, mock, redis-server and load generator.</summary>
    private static double Other(Measurement r)
    {
        var c = r.Cost;
        return Math.Max(0, c.MachineCpu - c.ArmCpu - c.MockCpu - (UsesRedis(r.Target) ? c.RedisCpu : 0) - c.WrkCpu) / r.Seconds;
    }

    /// <summary>
    /// Each gateway arm against bare YARP (and each variant against the default gateway), bare YARP against the mock; a floor
    /// target against bare YARP, and the gateway against it.
    /// </summary>
    private void RenderComparisons(StringBuilder s, List<Measurement> runs)
    {
        var ttft = runs[0].Case.Name == "ttft";
        s.AppendLine(ttft
            ? "| comparison | conns | added first event p50 ms | p99 ms | added first token p50 ms | p99 ms | CPU/req ratio (arm) | alloc/req ratio | RSS peak ratio |"
            : "| comparison | conns | throughput ratio | added p50 ms | added p99 ms | CPU/req ratio (arm) | CPU/req ratio (arm + redis) | alloc/req ratio | RSS peak ratio |");
        s.AppendLine(ttft ? "|---|---:|---:|---:|---:|---:|---:|---:|---:|" : "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        var targets = runs.Select(r => r.Target).Distinct().ToList();
        var pairs = targets.Where(IsGateway).Select(g => (g, "yarp"))
            .Concat(targets.Where(t => IsGateway(t) && t != "gateway").Select(v => (v, "gateway")))
            .Concat(targets.Where(t => UsesRedis(t) && !IsGateway(t)).SelectMany(f => new[] { (f, "yarp"), ("gateway", f) }))
            .Append(("yarp", "direct")).Append(("portkey", "direct")).Append(("gateway", "portkey"));
        var rounds = runs.Select(r => r.Round).Distinct().Order().ToList();
        foreach (var connections in runs.Select(r => r.Connections).Distinct())
            foreach (var (a, b) in pairs)
            {
                var ratios = new List<double>();
                foreach (var round in rounds)
                {
                    if (runs.FirstOrDefault(r => r.Target == a && r.Connections == connections && r.Round == round) is not { } x
                        || runs.FirstOrDefault(r => r.Target == b && r.Connections == connections && r.Round == round) is not { } y) continue;
                    var name = round == 0 ? $"{a} {(ttft ? "−" : "/")} {b}" : $"{a} {(ttft ? "−" : "/")} {b} #{round}";
                    ratios.Add(x.RequestsPerSecond / y.RequestsPerSecond);
                    double Cpu(Measurement m, bool withRedis) => (m.Cost.ArmCpu + (withRedis && UsesRedis(m.Target) ? m.Cost.RedisCpu : 0)) / m.Requests;
                    var alloc = x.Cost.Runtime is { AllocatedBytes: >= 0 } ra && y.Cost.Runtime is { } rb && rb.AllocatedBytes > 0
                        ? Invariant($"{(double)ra.AllocatedBytes / x.Requests / ((double)rb.AllocatedBytes / y.Requests):F2}") : "—";
                    var tail = Invariant($"{Cpu(x, false) / Cpu(y, false):F2} | {alloc} | {(double)x.Cost.RssPeak / y.Cost.RssPeak:F2} |");
                    if (ttft)
                    {
                        double P(double[] v, double p) => TtftResult.Percentile(v, p);
                        s.AppendLine(Invariant($"| {name} | {connections} | {P(x.Ttft!.FirstEvent, 50) - P(y.Ttft!.FirstEvent, 50):+0.00;-0.00} | {P(x.Ttft.FirstEvent, 99) - P(y.Ttft.FirstEvent, 99):+0.00;-0.00} | {P(x.Ttft.FirstToken, 50) - P(y.Ttft.FirstToken, 50):+0.00;-0.00} | {P(x.Ttft.FirstToken, 99) - P(y.Ttft.FirstToken, 99):+0.00;-0.00} | {tail}"));
                    }
                    else
                        s.AppendLine(Invariant($"| {name} | {connections} | {x.RequestsPerSecond / y.RequestsPerSecond:F2} | {x.Wrk!.P50 - y.Wrk!.P50:+0.00;-0.00} | {x.Wrk.P99 - y.Wrk.P99:+0.00;-0.00} | {Cpu(x, false) / Cpu(y, false):F2} | {Cpu(x, true) / Cpu(y, true):F2} | {alloc} | {(double)x.Cost.RssPeak / y.Cost.RssPeak:F2} |"));
                }
                // NOTE: with rounds, the median of the rounds' throughput ratios (and their spread) is the figure to read.
                if (!ttft && ratios.Count > 1)
                {
                    var sorted = ratios.Order().ToList();
                    var median = sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
                    s.AppendLine(Invariant($"| {a} / {b}, median of {sorted.Count} rounds (min–max {sorted[0]:F2}–{sorted[^1]:F2}) | {connections} | **{median:F2}** | | | | | | |"));
                }
            }
        s.AppendLine();
    }

    /// <summary>
    /// Where the gateway's added latency goes: its own histograms' means over the run (<see cref="GatewayStages"/>) and
    /// Redis's time per script call, so that the Redis round trip's other part (network, wake-ups, client) shows too.
    /// </summary>
    private static void RenderStages(StringBuilder s, List<Measurement> runs)
    {
        var gateways = runs.Where(r => r.Cost.Stages is not null).ToList();
        if (gateways.Count == 0) return;
        s.AppendLine("Gateway stages, means over the run from the gateway's `/metrics`: `reserve` and `settle` (one Redis round trip each, as the")
            .AppendLine("gateway waits for it), of which `script` is Redis's own time per EVALSHA (`INFO commandstats`); `overhead` a request's time")
            .AppendLine("in the gateway less the upstream call; `first bytes` (streams) from the request's arrival to the first bytes written to the client.").AppendLine();
        s.AppendLine("| target | conns | reserve ms | settle ms | script µs / call | overhead ms | first bytes ms |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var r in gateways)
        {
            var st = r.Cost.Stages!;
            string Ms(string name) => st.MeanMs(name) is double v ? Invariant($"{v:F3}") : "—";
            var script = r.Cost.Redis?.EvalshaMicros is double us ? Invariant($"{us:F0}") : "—";
            s.AppendLine(Invariant($"| {r.Label} | {r.Connections} | {Ms(GatewayStages.Names[0])} | {Ms(GatewayStages.Names[1])} | {script} | {Ms(GatewayStages.Names[2])} | {Ms(GatewayStages.Names[3])} |"));
        }
        s.AppendLine();
    }

    private void RenderMetering(StringBuilder s)
    {
        s.AppendLine("## Metering and Redis").AppendLine();
        s.AppendLine(Invariant($"Cost of one request: {costMicros} micro-USD (the mock's usage at the pricing file's {ChatRequest.Model} price)."));
        s.AppendLine();
        s.AppendLine("Timed runs. wrk abandons the requests in flight at its deadline (up to one per connection); the gateway still charges")
            .AppendLine("them, at least the input they sent as its tokenizer counts it (the mock reports 40 prompt tokens whatever the prompt, so an")
            .AppendLine("abandoned 64 KB request pays more than a complete one): `rest` is the drop less the complete answers' cost. Redis commands")
            .AppendLine("redis-server processed per request, by command (those inside the Lua scripts included):").AppendLine();
        s.AppendLine("| target | case | conns | complete 200 | balance drop µ$ | complete × cost µ$ | rest µ$ | Redis commands / request |");
        s.AppendLine("|---|---|---:|---:|---:|---:|---:|---|");
        foreach (var r in _runs.Where(r => r.ChargedMicros is not null))
        {
            var complete = r.Ok * costMicros;
            var byCommand = r.Cost.Redis is { } rd
                ? string.Join(", ", rd.Calls.OrderByDescending(c => c.Value).Take(8).Select(c => Invariant($"{c.Key} {(double)c.Value / r.Requests:F2}")))
                : "";
            s.AppendLine(Invariant($"| {r.Label} | {r.Case.Name} | {r.Connections} | {r.Ok:N0} | {r.ChargedMicros:N0} | {complete:N0} | {r.ChargedMicros - complete:N0} | {byCommand} |"));
        }
        s.AppendLine();
        s.AppendLine("Exact check (a fixed number of requests per gateway arm and case, each run to its end; for `ttft`, the paced-stream run itself):").AppendLine();
        s.AppendLine("| target | case | requests | complete 200 | non-200 | incomplete | balance drop µ$ | expected µ$ | result |");
        s.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var c in _checks)
            s.AppendLine(Invariant($"| {c.Target} | {c.Case} | {c.Requests:N0} | {c.Ok:N0} | {c.Non200} | {c.Incomplete} | {c.DropMicros:N0} | {c.ExpectedMicros:N0} | {(c.Passed ? "exact" : "MISMATCH")} |"));
        s.AppendLine();
        _ = options;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
