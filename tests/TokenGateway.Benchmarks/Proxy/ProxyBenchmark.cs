using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using StackExchange.Redis;
using TokenGateway.Testing;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// <c>dotnet run -c Release --project tests/TokenGateway.Benchmarks -- proxy</c>: the same chat completions sent by wrk
/// straight to the mock upstream, through a bare YARP forwarder, through the gateway (real redis-server; more gateway
/// arms with other runtime settings on request) and, when installed, through the npm peer gateway — each arm its own
/// process on 127.0.0.1, interleaved in one run — plus paced streams for the time to first token. Everything started
/// is stopped at the end, on error and on Ctrl-C / SIGTERM.
/// </summary>
internal static class ProxyBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        ProxyBenchmarkOptions options;
        try
        {
            options = ProxyBenchmarkOptions.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        using var cts = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            // NOTE: cancel instead of dying, so that the disposals below stop the arms, redis-server, node and wrk.
            context.Cancel = true;
            cts.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        var bodies = Directory.CreateTempSubdirectory("tg-bench-bodies-");
        try
        {
            return await RunCoreAsync(options, bodies.FullName, cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Console.Error.WriteLine("Interrupted; everything the benchmark started has been stopped.");
            return 130;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or HttpRequestException or IOException or RedisException)
        {
            // NOTE: reached after the disposals have stopped what was started.
            Console.Error.WriteLine($"The benchmark failed: {e.Message}");
            return 1;
        }
        finally
        {
            bodies.Delete(recursive: true);
        }
    }

    /// <summary>What every measurement needs: the processes behind the arms, the gateway's account and Redis.</summary>
    /// <param name="Scraper">Reads a gateway's /metrics (<see cref="GatewayStages"/>).</param>
    private sealed record Context(ProxyBenchmarkOptions Options, int MockPid, int RedisPid, IServer Redis, GatewayAdmin Admin, string? CaFile, HttpClient Scraper);

    private static async Task<int> RunCoreAsync(ProxyBenchmarkOptions options, string bodyDir, CancellationToken ct)
    {
        var loadBefore = ProcStat.LoadAverage();
        Log($"load average {loadBefore:F2} on {Environment.ProcessorCount} CPUs; starting redis-server and the arms (one process each)");
        if (loadBefore > Environment.ProcessorCount / 2.0)
            Log("WARNING: the machine is busy; the figures will be noisy (see the 'CPU other' column).");
        var cases = BenchCase.Create(options, bodyDir);

        await using var redis = await RedisProcess.StartAsync(ct);
        await using var redisClient = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var redisServer = redisClient.GetServer(redisClient.GetEndPoints()[0]);
        var arms = new List<IAsyncDisposable>();
        try
        {
            var none = new Dictionary<string, string>();
            var mock = await ArmProcess.StartAsync("serve-mock", ["--gzip", options.MockGzip ? "on" : "off", "--https", options.MockHttps ? "on" : "off"], none, runtimeConfig: null, ct);
            arms.Add(mock);
            // NOTE: both proxies run with the gateway's own runtimeconfig (its GC and JIT settings), so that a setting the
            // gateway ships with shows in its comparisons with its variants, not as metering made cheaper than bare YARP.
            var gatewayConfig = Path.Combine(AppContext.BaseDirectory, "TokenGateway.runtimeconfig.json");
            string[] trust = mock.CaFile is null ? [] : ["--ca-file", mock.CaFile];
            var yarp = await ArmProcess.StartAsync("serve-yarp", ["--upstream", mock.BaseUrl, .. trust], none, gatewayConfig, ct);
            arms.Add(yarp);
            // The floor (--floor, --floor-ping): bare YARP plus two round trips to the benchmark's redis-server a request.
            var floors = new List<(string Name, ArmProcess Arm, string Settings)>();
            foreach (var (name, _, roundTrip, what) in new[]
            {
                ("yarp+redis", options.Floor, "evalsha", $"EVALSHA of \"{BareForwarder.FloorScript}\""),
                ("yarp+ping", options.FloorPing, "ping", "PING"),
            }.Where(f => f.Item2))
            {
                var arm = await ArmProcess.StartAsync("serve-yarp", ["--upstream", mock.BaseUrl, "--redis", redis.Configuration, "--round-trip", roundTrip, .. trust], none, gatewayConfig, ct);
                arms.Add(arm);
                floors.Add((name, arm, $"bare IHttpForwarder, the gateway's runtimeconfig and Redis client settings; one {what} awaited before forwarding, one started after"));
            }
            var gateways = new List<(string Name, ArmProcess Arm, string Settings)>();
            foreach (var variant in options.Variants.Prepend(new GatewayVariant("", none)))
            {
                var arm = await ArmProcess.StartAsync("serve-gateway", ["--upstream", mock.BaseUrl, "--redis", redis.Configuration, .. trust], variant.Environment, gatewayConfig, ct);
                arms.Add(arm);
                gateways.Add((variant.Name == "" ? "gateway" : $"gateway[{variant.Name}]", arm, "its runtimeconfig, " + ArmServer.Describe(variant.Environment)));
            }
            using var admin = await GatewayAdmin.FundAsync(gateways[0].Arm, options.RateLimits, ct);
            PortkeyProcess? portkey = null;
            var portkeyNote = "not run (no --portkey DIR)";
            if (options.PortkeyDir is { } dir)
            {
                try
                {
                    portkey = await PortkeyProcess.StartAsync(dir, ct);
                    arms.Add(portkey);
                    portkeyNote = $"@portkey-ai/gateway {portkey.Version} under node {MachineInfo.ToolVersion("node", "--version")}";
                }
                catch (Exception e) when (e is FileNotFoundException or InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
                {
                    portkeyNote = "skipped: " + e.Message;
                    Log(portkeyNote);
                }
            }

            List<Target> targets =
            [
                new("direct", mock.BaseUrl, [], mock.Pid, mock.StatsPort, IsGateway: false, "mock upstream, server GC"),
                new("yarp", yarp.BaseUrl, [], yarp.Pid, yarp.StatsPort, IsGateway: false, "bare IHttpForwarder, the gateway's runtimeconfig"),
                .. floors.Select(f => new Target(f.Name, f.Arm.BaseUrl, [], f.Arm.Pid, f.Arm.StatsPort, IsGateway: false, f.Settings, Floor: true)),
                .. gateways.Select(g => new Target(g.Name, g.Arm.BaseUrl, [], g.Arm.Pid, g.Arm.StatsPort, IsGateway: true, g.Settings)),
                .. admin.Limited is null ? Array.Empty<Target>()
                    : [new Target("gateway+rl", gateways[0].Arm.BaseUrl, [], gateways[0].Arm.Pid, gateways[0].Arm.StatsPort, IsGateway: true,
                        $"{gateways[0].Settings}; the key of an account with {options.RateLimits} rate limits", Account: admin.Limited)],
                .. portkey is null ? Array.Empty<Target>()
                    : [new Target("portkey", portkey.BaseUrl, PortkeyProcess.Headers(mock.BaseUrl), portkey.Process.Id, null, IsGateway: false, "node", Optional: true)],
            ];
            var skipped = await SmokeTestAsync(targets, cases, admin.Main, mock.CaFile, ct);
            foreach (var (target, name, reason) in skipped)
            {
                portkeyNote += $"; {name} skipped: {reason}";
                Log($"{target.Name} {name} skipped: {reason}");
            }
            bool Runs(Target t, string caseName) => !skipped.Any(s => s.Target == t && s.Case == caseName);

            var startups = string.Join(", ", new[] { ("mock", mock), ("yarp", yarp) }.Concat(floors.Select(f => (f.Name, f.Arm))).Concat(gateways.Select(g => (g.Name, g.Arm)))
                .Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.Item1} {a.Item2.Startup.TotalMilliseconds:F0} ms")));
            var report = new Report(options,
                [.. EnvironmentLines(options, loadBefore, targets, portkeyNote), RuntimeConfigLine(gatewayConfig), $"start-up: process start to ready (started one after the other): {startups}"],
                admin.CostMicros);
            using var scraper = new HttpClient(LoopbackHandler.Create(caFile: null));
            var cx = new Context(options, mock.Pid, redis.Process.Id, redisServer, admin, mock.CaFile, scraper);

            await JitWarmUpAsync(cx, targets, cases, Runs, ct);
            await MeasureLoadAsync(cx, targets, cases, Runs, report, ct);
            if (options.Cases.Contains("ttft")) await MeasureTimeToFirstTokenAsync(cx, targets, Runs, report, ct);
            if (options.CheckRequests > 0) await CheckMeteringAsync(cx, targets, cases, report, ct);

            var markdown = report.Render() + string.Create(CultureInfo.InvariantCulture, $"Load average after the run: {ProcStat.LoadAverage():F2}.\n");
            Console.WriteLine();
            Console.WriteLine(markdown);
            if (options.OutFile is { } file) await File.WriteAllTextAsync(file, markdown, ct);
            if (!report.Passed) Console.Error.WriteLine("Metering check FAILED: see the Metering section.");
            return report.Passed ? 0 : 1;
        }
        finally
        {
            foreach (var arm in Enumerable.Reverse(arms)) await arm.DisposeAsync();
        }
    }

    /// <summary>Load on each arm once, before anything is measured, so that tiered compilation settles (see the JIT column).</summary>
    private static async Task JitWarmUpAsync(Context cx, List<Target> targets, List<BenchCase> cases, Func<Target, string, bool> runs, CancellationToken ct)
    {
        var o = cx.Options;
        if (o.JitWarmupSeconds == 0 || cases.Count == 0) return;
        var each = Math.Max(1, o.JitWarmupSeconds / cases.Count);
        foreach (var target in targets)
        {
            Log($"JIT warm-up of {target.Name}: {each} s per case");
            foreach (var bench in cases.Where(c => runs(target, c.Name)))
                await Wrk.RunAsync(target.BaseUrl, bench, bench.Connections.Max(), o.WrkThreads, each, KeyOf(cx, target), target.Headers, o.WrkCpus, ct);
        }
    }

    /// <summary>
    /// The wrk cases, interleaved: for each case and connection count, every arm in turn. With <c>--rounds</c>, even rounds
    /// take the arms in reverse order, so that of two neighbours (gateway and gateway+rl) neither always runs first: a
    /// drift of the machine within a round then counts against each of them equally often.
    /// </summary>
    private static async Task MeasureLoadAsync(
        Context cx, List<Target> targets, List<BenchCase> cases, Func<Target, string, bool> runs, Report report, CancellationToken ct)
    {
        var o = cx.Options;
        foreach (var bench in cases)
            foreach (var connections in bench.Connections)
                for (var round = 1; round <= o.Rounds; round++)
                    foreach (var target in (round % 2 == 0 ? Enumerable.Reverse(targets) : targets).Where(t => runs(t, bench.Name)))
                    {
                        var m = await MeasureAsync(cx, target, new BenchCaseKey(bench.Name, bench.Title, bench.Stream), connections, async seconds =>
                            (await Wrk.RunAsync(target.BaseUrl, bench, connections, o.WrkThreads, seconds, KeyOf(cx, target), target.Headers, o.WrkCpus, ct), null), ct);
                        report.Add(o.Rounds > 1 ? m with { Round = round } : m);
                    }
    }

    /// <summary>The paced streams, every arm in turn; for a gateway arm the run is also this mode's exact metering check.</summary>
    private static async Task MeasureTimeToFirstTokenAsync(Context cx, List<Target> targets, Func<Target, string, bool> runs, Report report, CancellationToken ct)
    {
        var o = cx.Options;
        var key = new BenchCaseKey("ttft", $"Streaming with a paced upstream ({o.PaceMilliseconds} ms before each content delta): time to first token", true);
        foreach (var target in targets.Where(t => runs(t, "stream")))
        {
            var m = await MeasureAsync(cx, target, key, o.TtftConnections, async seconds =>
                (null, await TtftClient.RunAsync(target.BaseUrl, KeyOf(cx, target), target.Headers, o.TtftConnections, o.PaceMilliseconds, seconds, cx.CaFile, ct)), ct);
            report.Add(m);
            // NOTE: the paced-stream client runs every request it starts to its end, so its run is this mode's exact check.
            if (target.IsGateway)
                report.Add(new MeteringCheckResult(target.Name, key.Name, (int)m.Requests, m.Ttft!.Ok, m.Ttft.Non200, m.Ttft.Incomplete,
                    m.ChargedMicros!.Value, m.Ttft.Ok * cx.Admin.CostMicros));
        }
    }

    /// <summary>The exact check of every gateway arm in every load case.</summary>
    private static async Task CheckMeteringAsync(Context cx, List<Target> targets, List<BenchCase> cases, Report report, CancellationToken ct)
    {
        foreach (var target in targets.Where(t => t.IsGateway))
            foreach (var bench in cases)
            {
                Log($"exact metering check, {target.Name}, {bench.Name}: {cx.Options.CheckRequests} requests");
                report.Add(await MeteringCheck.RunAsync(target.Name, target.BaseUrl, cx.Admin, target.Account, bench, cx.Options.CheckRequests, cx.Options.LargeConnections, ct));
            }
    }

    private static string[] EnvironmentLines(ProxyBenchmarkOptions options, double loadBefore, List<Target> targets, string portkeyNote) =>
    [
        $"command:  proxy {string.Join(' ', System.Environment.GetCommandLineArgs().Skip(2))}".TrimEnd(),
        $"date:     {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC",
        $"machine:  {System.Environment.ProcessorCount} CPUs, {MachineInfo.CpuModel()}, {MachineInfo.Os()}",
        $"runtime:  {MachineInfo.Runtime()} (the harness; each arm reports its own GC mode below)",
        $"load:     load average {loadBefore:F2} before the run",
        $"arms:     one process each: {string.Join("; ", targets.Select(t => $"{t.Name} ({t.Settings})"))}",
        $"wrk:      {MachineInfo.ToolVersion("wrk", "--version")}, {options.WrkThreads} thread(s), {(options.WrkCpus is null ? "not pinned" : "taskset -c " + options.WrkCpus)}",
        $"runs:     {options.JitWarmupSeconds} s JIT warm-up per arm (once, over the load cases), then {options.WarmupSeconds} s warm-up (discarded) + {options.DurationSeconds} s measured per arm, case and connection count",
        $"redis:    {MachineInfo.ToolVersion("redis-server", "--version")}, no persistence",
        $"mock:     {(options.MockHttps ? "HTTPS (self-signed; the proxies negotiate HTTP/2 by ALPN)" : "plain HTTP (the proxies use HTTP/1.1)")}; 40 prompt + 12 completion tokens whatever the prompt; streams send 12 content deltas; gzip for clients that accept it {(options.MockGzip ? "on" : "off")}",
        $"ttft:     {options.TtftConnections} connections from the harness (HttpClient, ResponseHeadersRead), mock pausing {options.PaceMilliseconds} ms before each content delta",
        $"peer:     {portkeyNote}",
        $"limits:   {options.RateLimits switch
        {
            "all" => "gateway+rl: the gateway arm with the key of an account with every kind of rate limit on the key and the account (RPM, TPM, RPD, in flight, per model: twelve), none refusing",
            "typical" => "gateway+rl: the gateway arm with the key of an account with RPM and TPM limits on the key and a TPM limit on the account, none refusing",
            _ => "no rate limits",
        }}",
    ];

    /// <summary>The runtime settings of the gateway's runtimeconfig.json, less the ones every app has.</summary>
    private static string RuntimeConfigLine(string path)
    {
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        string[] usual = ["System.Globalization.Invariant", "System.Globalization.PredefinedCulturesOnly",
            "System.Reflection.Metadata.MetadataUpdater.IsSupported", "System.Runtime.Serialization.EnableUnsafeBinaryFormatterSerialization"];
        var settings = json.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").EnumerateObject()
            .Where(p => !usual.Contains(p.Name)).Select(p => $"{p.Name}={p.Value.GetRawText()}");
        return $"gateway runtimeconfig: {string.Join(", ", settings)}";
    }

    private static async Task<Measurement> MeasureAsync(
        Context cx, Target target, BenchCaseKey bench, int connections, Func<int, Task<(WrkResult?, TtftResult?)>> load, CancellationToken ct)
    {
        if (cx.Options.WarmupSeconds > 0) await load(cx.Options.WarmupSeconds);
        long? before = target.IsGateway ? await cx.Admin.SettledBalanceMicrosAsync(target.Account, ct) : null;
        var loadAverage = ProcStat.LoadAverage();
        var runtimeBefore = target.StatsPort is int port ? await StatsListener.ReadAsync(port, ct) : null;
        var redisBefore = target.UsesRedis ? await RedisStats.ReadAsync(cx.Redis) : null;
        var stagesBefore = target.IsGateway ? await GatewayStages.ReadAsync(cx.Scraper, target.BaseUrl, ct) : null;
        var self = System.Environment.ProcessId;
        var pids = new[] { target.Pid, cx.MockPid, cx.RedisPid, self };
        var cpuBefore = pids.Select(ProcStat.CpuSeconds).ToArray();
        var machineBefore = ProcStat.MachineBusySeconds();
        var rss = new RssSampler(target.Pid);
        await using var _ = rss;
        var (wrk, ttft) = await load(cx.Options.DurationSeconds);
        var cpu = pids.Select((pid, i) => ProcStat.CpuSeconds(pid) - cpuBefore[i]).ToArray();
        var machine = ProcStat.MachineBusySeconds() - machineBefore;
        var (peak, average) = await rss.StopAsync();
        var redis = target.UsesRedis ? (await RedisStats.ReadAsync(cx.Redis)).Minus(redisBefore!) : null;
        var stages = target.IsGateway ? (await GatewayStages.ReadAsync(cx.Scraper, target.BaseUrl, ct)).Minus(stagesBefore!) : null;
        var runtime = target.StatsPort is int p ? (await StatsListener.ReadAsync(p, ct)).Minus(runtimeBefore!) : null;
        long? charged = target.IsGateway ? before - await cx.Admin.SettledBalanceMicrosAsync(target.Account, ct) : null;
        // The load generator: wrk's own process, or this one for the paced-stream client.
        var generator = wrk?.WrkCpuSeconds ?? cpu[3];
        var mockCpu = target.Pid == cx.MockPid ? 0 : cpu[1];
        var cost = new RunCost(cpu[0], mockCpu, cpu[2], machine, generator, peak, average, runtime, redis, stages);
        var m = new Measurement(target.Name, bench, connections, wrk, ttft, cost, loadAverage, charged);
        Log(string.Create(CultureInfo.InvariantCulture,
            $"{bench.Name,-6} {target.Name,-16} c={connections,-3} {m.RequestsPerSecond,8:F0} req/s  {(wrk is null ? $"first token p50 {TtftResult.Percentile(ttft!.FirstToken, 50):F2} ms" : $"p50 {wrk.P50:F2} ms")}  CPU {cost.ArmCpu / m.Requests * 1e6:F0} µs/req  alloc {(runtime is null ? "?" : $"{runtime.AllocatedBytes / 1024.0 / m.Requests:F1}")} KB/req  RSS {peak / 1048576.0:F0} MB"));
        return m;
    }

    /// <summary>
    /// One request per target and case before any load: a wrong set-up fails here, not as a page of errors.
    /// </summary>
    /// <returns>The cases an optional target failed, which the benchmark then skips.</returns>
    private static async Task<List<(Target Target, string Case, string Reason)>> SmokeTestAsync(
        IEnumerable<Target> targets, List<BenchCase> cases, BenchAccount main, string? caFile, CancellationToken ct)
    {
        var skipped = new List<(Target, string, string)>();
        using var client = new HttpClient(LoopbackHandler.Create(caFile));
        var streaming = BenchCaseKeyless(stream: true);
        foreach (var target in targets)
            foreach (var (name, body, marker) in cases.Select(c => (c.Name, c.Body, c.Marker)).Append(streaming).DistinctBy(c => c.Item1))
            {
                var status = await MeteringCheck.SendAsync(client, target.BaseUrl, (target.Account ?? main).Key, target.Headers, body, marker, ct);
                if (status == HttpStatusCode.OK) continue;
                var reason = $"it answered the request with {(status is null ? "an incomplete 200" : $"{(int)status} {status}")}";
                if (!target.Optional) throw new InvalidOperationException($"{target.Name}: {name}: {reason}.");
                skipped.Add((target, name, reason));
            }
        return skipped;
    }

    /// <summary>The short streaming request, which the paced-stream runs send too (also when the "stream" case is not run).</summary>
    private static (string Name, string Body, string Marker) BenchCaseKeyless(bool stream) =>
        ("stream", ChatRequest.Body(stream), ChatRequest.CompleteMarker(stream));

    private static string KeyOf(Context cx, Target target) => (target.Account ?? cx.Admin.Main).Key;

    private static void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
}
