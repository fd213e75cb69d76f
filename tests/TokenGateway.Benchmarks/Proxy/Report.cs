using System.Globalization;
using System.Text;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>The Markdown report of one run: environment, a table per mode, the ratios, the metering checks.</summary>
internal sealed class Report(ProxyBenchmarkOptions options, IReadOnlyList<string> environment, long costMicros)
{
    private readonly List<Measurement> _runs = [];
    private readonly List<MeteringCheckResult> _checks = [];

    public void Add(Measurement m) => _runs.Add(m);
    public void Add(MeteringCheckResult c) => _checks.Add(c);

    public bool Passed => _checks.All(c => c.Passed) && _runs.Where(r => r.Target == "gateway").All(r => r.Wrk.Non200 == 0 && r.Wrk.Incomplete == 0);

    public string Render()
    {
        var s = new StringBuilder();
        s.AppendLine("## Environment").AppendLine().AppendLine("```");
        foreach (var line in environment) s.AppendLine(line);
        s.AppendLine("```").AppendLine();
        foreach (var stream in new[] { false, true })
        {
            var runs = _runs.Where(r => r.Stream == stream).ToList();
            if (runs.Count == 0) continue;
            s.AppendLine($"## {ChatRequest.ModeName(stream)} chat completions").AppendLine();
            s.AppendLine("| target | conns | req/s | p50 ms | p90 ms | p99 ms | max ms | complete 200 | non-200 | incomplete | socket errors | CPU servers | CPU wrk | CPU other | load |");
            s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in runs)
            {
                var w = r.Wrk;
                double Cores(double seconds) => seconds / w.DurationSeconds;
                s.AppendLine(Invariant($"| {r.Target} | {r.Connections} | {w.RequestsPerSecond:N0} | {w.P50:F2} | {w.P90:F2} | {w.P99:F2} | {w.Max:F1} | {w.Ok:N0} | {w.Non200} | {w.Incomplete} | {w.SocketErrors} | {Cores(r.ServersCpu):F2} | {Cores(w.WrkCpuSeconds):F2} | {Cores(r.OtherCpu):F2} | {r.LoadAverage:F2} |"));
            }
            s.AppendLine();
            RenderRatios(s, runs);
        }
        RenderMetering(s);
        return s.ToString();
    }

    private void RenderRatios(StringBuilder s, List<Measurement> runs)
    {
        s.AppendLine("| comparison | conns | throughput ratio | added p50 ms | added p90 ms | added p99 ms |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var conns in options.Connections)
        {
            Measurement? Find(string target) => runs.FirstOrDefault(r => r.Target == target && r.Connections == conns);
            foreach (var (a, b) in new[] { ("gateway", "yarp"), ("gateway", "direct"), ("yarp", "direct"), ("portkey", "direct"), ("gateway", "portkey") })
            {
                if (Find(a) is not { } x || Find(b) is not { } y) continue;
                s.AppendLine(Invariant($"| {a} / {b} | {conns} | {x.Wrk.RequestsPerSecond / y.Wrk.RequestsPerSecond:F2} | {x.Wrk.P50 - y.Wrk.P50:+0.00;-0.00} | {x.Wrk.P90 - y.Wrk.P90:+0.00;-0.00} | {x.Wrk.P99 - y.Wrk.P99:+0.00;-0.00} |"));
            }
        }
        s.AppendLine();
    }

    private void RenderMetering(StringBuilder s)
    {
        s.AppendLine("## Metering").AppendLine();
        s.AppendLine(Invariant($"Cost of one request: {costMicros} micro-USD (the mock's usage at the pricing file's {ChatRequest.Model} price)."));
        s.AppendLine();
        s.AppendLine("Timed runs (wrk abandons the requests in flight at its deadline; the gateway may still charge them):").AppendLine();
        s.AppendLine("| mode | conns | complete 200 (wrk) | balance drop µ$ | drop / cost | charged − counted |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var r in _runs.Where(r => r.ChargedMicros is not null))
        {
            var charged = (double)r.ChargedMicros!.Value / costMicros;
            s.AppendLine(Invariant($"| {ChatRequest.ModeName(r.Stream)} | {r.Connections} | {r.Wrk.Ok:N0} | {r.ChargedMicros:N0} | {charged:N2} | {charged - r.Wrk.Ok:N2} |"));
        }
        s.AppendLine();
        s.AppendLine("Exact check (a fixed number of requests, each run to its end):").AppendLine();
        s.AppendLine("| mode | requests | complete 200 | non-200 | incomplete | balance drop µ$ | expected µ$ | result |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var c in _checks)
            s.AppendLine(Invariant($"| {ChatRequest.ModeName(c.Stream)} | {c.Requests:N0} | {c.Ok:N0} | {c.Non200} | {c.Incomplete} | {c.DropMicros:N0} | {c.ExpectedMicros:N0} | {(c.Passed ? "exact" : "MISMATCH")} |"));
        s.AppendLine();
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
