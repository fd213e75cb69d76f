using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using TokenGateway.MockUpstream;
using TokenGateway.Testing;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// <c>dotnet run -c Release --project tests/TokenGateway.Benchmarks -- proxy</c>: the same chat completion,
/// non-streaming and streaming, sent by wrk straight to the mock upstream, through a bare YARP forwarder,
/// through the gateway (real redis-server) and, when installed, through the npm peer gateway — all on
/// 127.0.0.1 in one run. Everything started is stopped at the end, on error and on Ctrl-C / SIGTERM.
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
            // NOTE: cancel instead of dying, so that the `await using`s below stop redis-server, node and wrk.
            context.Cancel = true;
            cts.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        try
        {
            return await RunCoreAsync(options, cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Console.Error.WriteLine("Interrupted; everything the benchmark started has been stopped.");
            return 130;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or HttpRequestException or IOException)
        {
            // NOTE: reached after the `await using`s have stopped what was started.
            Console.Error.WriteLine($"The benchmark failed: {e.Message}");
            return 1;
        }
    }

    private static async Task<int> RunCoreAsync(ProxyBenchmarkOptions options, CancellationToken ct)
    {
        var loadBefore = CpuMeter.LoadAverage();
        Log($"load average {loadBefore:F2} on {Environment.ProcessorCount} CPUs; starting redis-server, the mock, YARP and the gateway");
        if (loadBefore > Environment.ProcessorCount / 2.0)
            Log("WARNING: the machine is busy; the figures will be noisy (see the 'CPU other' column).");

        await using var redis = await RedisProcess.StartAsync(ct);
        var mockOptions = new MockUpstreamOptions { GzipWhenAccepted = options.MockGzip };
        await using var mock = await MockUpstreamServer.StartAsync(mockOptions, recordRequests: false);
        await using var yarp = await BareForwarder.StartAsync(mock.BaseUrl);
        await using var gateway = await GatewayUnderTest.StartAsync(mock.BaseUrl, redis.Configuration, mockOptions);
        PortkeyProcess? portkey = null;
        var portkeyNote = "not run (no --portkey DIR)";
        if (options.PortkeyDir is { } dir)
        {
            try
            {
                portkey = await PortkeyProcess.StartAsync(dir, ct);
                portkeyNote = $"@portkey-ai/gateway {portkey.Version} under node {MachineInfo.ToolVersion("node", "--version")}";
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
            {
                portkeyNote = "skipped: " + e.Message;
                Log(portkeyNote);
            }
        }
        await using var _ = portkey;

        List<Target> targets =
        [
            new("direct", mock.BaseUrl, [], []),
            new("yarp", yarp.BaseUrl, [], []),
            new("gateway", gateway.BaseUrl, [], [redis.Process]),
            .. portkey is null ? Array.Empty<Target>() : [new Target("portkey", portkey.BaseUrl, PortkeyProcess.Headers(mock.BaseUrl), [portkey.Process], Optional: true)],
        ];
        var skipped = await SmokeTestAsync(targets, gateway.Key, ct);
        foreach (var (target, stream, reason) in skipped)
        {
            portkeyNote += $"; {ChatRequest.ModeName(stream)} skipped: {reason}";
            Log($"{target.Name} {ChatRequest.ModeName(stream)} skipped: {reason}");
        }

        string[] environment =
        [
            $"command:  proxy {string.Join(' ', Environment.GetCommandLineArgs().Skip(2))}".TrimEnd(),
            $"date:     {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC",
            $"machine:  {Environment.ProcessorCount} CPUs, {MachineInfo.CpuModel()}, {MachineInfo.Os()}",
            $"runtime:  {MachineInfo.Runtime()}",
            $"load:     load average {loadBefore:F2} before the run",
            $"wrk:      {MachineInfo.ToolVersion("wrk", "--version")}, {options.WrkThreads} thread(s), {(options.WrkCpus is null ? "not pinned" : "taskset -c " + options.WrkCpus)}",
            $"runs:     {options.WarmupSeconds} s warm-up (discarded) + {options.DurationSeconds} s measured per target, mode and connection count",
            $"redis:    {MachineInfo.ToolVersion("redis-server", "--version")}, no persistence",
            $"mock:     {mockOptions.PromptTokens} prompt + {mockOptions.CompletionTokens} completion tokens; streams send {mockOptions.CompletionTokens} content deltas; gzip for clients that accept it {(options.MockGzip ? "on" : "off")}",
            $"peer:     {portkeyNote}",
        ];
        var report = new Report(options, environment, gateway.CostMicros);

        foreach (var stream in new[] { false, true })
            foreach (var connections in options.Connections)
                foreach (var target in targets.Where(t => !skipped.Any(s => s.Target == t && s.Stream == stream)))
                    report.Add(await MeasureAsync(options, target, gateway, stream, connections, ct));

        if (options.CheckRequests > 0)
            foreach (var stream in new[] { false, true })
            {
                Log($"exact metering check, {ChatRequest.ModeName(stream)}: {options.CheckRequests} requests");
                report.Add(await MeteringCheck.RunAsync(gateway, stream, options.CheckRequests, options.Connections.Max(), ct));
            }

        var markdown = report.Render() + string.Create(CultureInfo.InvariantCulture, $"Load average after the run: {CpuMeter.LoadAverage():F2}.\n");
        Console.WriteLine();
        Console.WriteLine(markdown);
        if (options.OutFile is { } file) await File.WriteAllTextAsync(file, markdown, ct);
        if (!report.Passed) Console.Error.WriteLine("Metering check FAILED: see the Metering section.");
        return report.Passed ? 0 : 1;
    }

    private static async Task<Measurement> MeasureAsync(ProxyBenchmarkOptions options, Target target, GatewayUnderTest gateway, bool stream, int connections, CancellationToken ct)
    {
        var mode = ChatRequest.ModeName(stream);
        Task<WrkResult> Wrk(int seconds) => Proxy.Wrk.RunAsync(target.BaseUrl, stream, connections, options.WrkThreads, seconds, gateway.Key, target.Headers, options.WrkCpus, ct);
        if (options.WarmupSeconds > 0) await Wrk(options.WarmupSeconds);
        var isGateway = target.Name == "gateway";
        long? before = isGateway ? await gateway.SettledBalanceMicrosAsync(ct) : null;
        var load = CpuMeter.LoadAverage();
        var cpu = CpuMeter.Start(target.Processes);
        var result = await Wrk(options.DurationSeconds);
        var (servers, machine) = cpu.Stop();
        long? charged = isGateway ? before - await gateway.SettledBalanceMicrosAsync(ct) : null;
        Log(string.Create(CultureInfo.InvariantCulture,
            $"{mode,-13} {target.Name,-8} c={connections,-3} {result.RequestsPerSecond,8:F0} req/s  p50 {result.P50:F2} ms  p99 {result.P99:F2} ms  non-200 {result.Non200}  incomplete {result.Incomplete}  socket errors {result.SocketErrors}"));
        return new Measurement(target.Name, stream, connections, result, servers, machine, load, charged);
    }

    /// <summary>
    /// One request per target and mode before any load: a wrong set-up fails here, not as a page of errors.
    /// </summary>
    /// <returns>The modes an optional target failed, which the benchmark then skips.</returns>
    private static async Task<List<(Target Target, bool Stream, string Reason)>> SmokeTestAsync(IEnumerable<Target> targets, string key, CancellationToken ct)
    {
        var skipped = new List<(Target, bool, string)>();
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        foreach (var target in targets)
            foreach (var stream in new[] { false, true })
            {
                var status = await MeteringCheck.SendAsync(client, target.BaseUrl, key, target.Headers, stream, ct);
                if (status == HttpStatusCode.OK) continue;
                var reason = $"it answered the request with {(status is null ? "an incomplete 200" : $"{(int)status} {status}")}";
                if (!target.Optional) throw new InvalidOperationException($"{target.Name}: {ChatRequest.ModeName(stream)}: {reason}.");
                skipped.Add((target, stream, reason));
            }
        return skipped;
    }

    private static void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
}
