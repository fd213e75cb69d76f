using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>One wrk run against a target, in its own process (optionally pinned with taskset).</summary>
internal static partial class Wrk
{
    public static async Task<WrkResult> RunAsync(
        string baseUrl, BenchCase bench, int connections, int threads, int seconds, string key, IEnumerable<string> headers, string? cpus, CancellationToken ct)
    {
        string[] wrk =
        [
            .. cpus is null ? Array.Empty<string>() : ["taskset", "-c", cpus],
            "wrk", "-t", $"{threads}", "-c", $"{connections}", "-d", $"{seconds}s", "--timeout", "10s",
            "-s", Path.Combine(AppContext.BaseDirectory, "Proxy", "chat.lua"), baseUrl + "/v1/chat/completions",
            "--", "@" + bench.BodyFile, bench.Marker, key, .. headers,
        ];
        // NOTE: wrk's CPU time is read with the shell's `times` (children's user and system time) because
        // .NET cannot read the CPU time of a child that has exited.
        var start = new ProcessStartInfo("sh", ["-c", "\"$@\"; status=$?; times; exit $status", "sh", .. wrk])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start wrk.");
        using var stop = ct.Register(() =>
        {
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { }
        });
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        await process.WaitForExitAsync(CancellationToken.None);
        ct.ThrowIfCancellationRequested();
        var output = await stdout;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"wrk failed ({process.ExitCode}); is it installed (apt-get install -y wrk)?\n{output}\n{await stderr}");
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("TGBENCH ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"wrk printed no result line:\n{output}");
        using var json = JsonDocument.Parse(line["TGBENCH ".Length..]);
        var r = json.RootElement;
        long L(string name) => r.GetProperty(name).GetInt64();
        double Ms(string name) => r.GetProperty(name).GetInt64() / 1000.0;
        return new WrkResult(L("requests"), L("duration_us") / 1e6, L("ok"), L("non200"), L("incomplete"), L("socket_errors"),
            Ms("p50_us"), Ms("p90_us"), Ms("p99_us"), Ms("max_us"), ChildrenCpuSeconds(output));
    }

    /// <summary>The second line of <c>times</c>: the children's user and system time, e.g. <c>0m1.23s 0m0.45s</c>.</summary>
    private static double ChildrenCpuSeconds(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var matches = Times().Matches(lines[^1]);
        return matches.Sum(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 60
            + double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"(\d+)m([\d.]+)s")]
    private static partial Regex Times();
}
