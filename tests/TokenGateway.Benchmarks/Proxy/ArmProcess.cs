using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// The harness's side of an arm: this benchmark program re-invoked as a child with a <c>serve-*</c> command (see
/// <see cref="ArmServer"/>), its origin and stats port read from the line it prints when ready, and the child killed on
/// dispose. Its stdin stays open as a lifeline: should the harness die without disposing, the child sees end of file
/// and stops by itself.
/// </summary>
internal sealed class ArmProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ArmProcess(Process process, JsonElement ready, TimeSpan startup)
    {
        _process = process;
        Startup = startup;
        BaseUrl = ready.GetProperty("url").GetString()!;
        StatsPort = ready.GetProperty("stats_port").GetInt32();
        CostMicros = ready.TryGetProperty("cost_micros", out var cost) ? cost.GetInt64() : null;
        CaFile = ready.TryGetProperty("ca_file", out var ca) ? ca.GetString() : null;
    }

    /// <summary>An HTTPS mock's certificate (PEM), for the proxies and the harness's own clients to trust; null otherwise.</summary>
    public string? CaFile { get; }

    public string BaseUrl { get; }

    /// <summary>From starting the process to its ready line: the runtime's start, the JIT of the start-up path, the host's start.</summary>
    public TimeSpan Startup { get; }
    public int StatsPort { get; }
    public int Pid => _process.Id;

    /// <summary>The gateway's price of one benchmark request; null for other arms.</summary>
    public long? CostMicros { get; }

    /// <param name="runtimeConfig">
    /// A runtimeconfig.json to run the child with instead of this program's (<c>dotnet exec --runtimeconfig</c>), e.g. the
    /// gateway's own, so that the gateway arm runs with the runtime settings the gateway ships with.
    /// </param>
    public static async Task<ArmProcess> StartAsync(
        string command, string[] args, IReadOnlyDictionary<string, string> environment, string? runtimeConfig, CancellationToken ct)
    {
        var (file, prefix) = Self(runtimeConfig);
        var start = new ProcessStartInfo(file, [.. prefix, command, .. args])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var clock = Stopwatch.StartNew();
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {command}.");
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith(ArmServer.ReadyPrefix, StringComparison.Ordinal) == true) ready.TrySetResult(e.Data[ArmServer.ReadyPrefix.Length..]);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null && errors.Count < 20) errors.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            var exited = process.WaitForExitAsync(timeout.Token);
            if (await Task.WhenAny(ready.Task, exited) != ready.Task)
            {
                ct.ThrowIfCancellationRequested();
                throw new InvalidOperationException(process.HasExited
                    ? $"{command} exited with code {process.ExitCode} before it was ready: {string.Join(" | ", errors)}"
                    : $"{command} was not ready within 60 s: {string.Join(" | ", errors)}");
            }
            var line = await ready.Task;
            var startup = clock.Elapsed;
            using var json = JsonDocument.Parse(line);
            return new ArmProcess(process, json.RootElement.Clone(), startup);
        }
        catch
        {
            Kill(process);
            process.Dispose();
            throw;
        }
    }

    public Task<RuntimeStats> StatsAsync(CancellationToken ct) => StatsListener.ReadAsync(StatsPort, ct);

    /// <summary>This program: its apphost, or <c>dotnet</c> and its dll when it was started that way or needs another runtimeconfig.</summary>
    private static (string File, string[] Prefix) Self(string? runtimeConfig)
    {
        var path = Environment.ProcessPath ?? throw new InvalidOperationException("No process path.");
        var dll = typeof(ArmProcess).Assembly.Location;
        var dotnet = Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        if (runtimeConfig is not null) return (dotnet, ["exec", "--runtimeconfig", runtimeConfig, dll]);
        return dotnet == path ? (path, [dll]) : (path, []);
    }

    private static void Kill(Process process)
    {
        try
        {
            if (process.HasExited) return;
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill(_process);
        _process.Dispose();
        // NOTE: a killed mock cannot delete its certificate file itself.
        if (CaFile is not null) File.Delete(CaFile);
        return ValueTask.CompletedTask;
    }
}
