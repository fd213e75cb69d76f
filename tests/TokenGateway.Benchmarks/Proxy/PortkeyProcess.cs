using System.Diagnostics;
using System.Net;
using TokenGateway.Testing;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// The npm peer gateway <c>@portkey-ai/gateway</c> under node, on loopback, routed to the mock as a custom
/// OpenAI host. Installed beforehand with <c>npm install --prefix DIR @portkey-ai/gateway</c>.
/// </summary>
internal sealed class PortkeyProcess : IAsyncDisposable
{
    private readonly Process _process;

    private PortkeyProcess(Process process, int port)
    {
        _process = process;
        BaseUrl = $"http://127.0.0.1:{port}";
    }

    public string BaseUrl { get; }
    public Process Process => _process;
    public string Version { get; private set; } = "?";

    /// <summary>Headers that make it forward to the mock as an OpenAI-compatible provider.</summary>
    public static string[] Headers(string upstream) => ["x-portkey-provider: openai", $"x-portkey-custom-host: {upstream}/v1"];

    public static async Task<PortkeyProcess> StartAsync(string dir, CancellationToken ct)
    {
        var package = Path.Combine(dir, "node_modules", "@portkey-ai", "gateway");
        var script = Path.Combine(package, "build", "start-server.js");
        if (!File.Exists(script)) throw new FileNotFoundException($"No {script}: run `npm install --prefix {dir} @portkey-ai/gateway` first.");
        var port = LoopbackPort.Free();
        // NOTE: its start script binds every interface; the preloaded shim keeps it on 127.0.0.1.
        var start = new ProcessStartInfo("node",
            ["--import", Path.Combine(AppContext.BaseDirectory, "Proxy", "loopback.mjs"), script, $"--port={port}", "--headless"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["NODE_ENV"] = "production" },
        };
        var process = Process.Start(start)!;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) errors.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var portkey = new PortkeyProcess(process, port);
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(package, "package.json"), ct));
            portkey.Version = json.RootElement.GetProperty("version").GetString() ?? "?";
            using var http = new HttpClient();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (true)
            {
                if (process.HasExited) throw new InvalidOperationException($"node exited with code {process.ExitCode} at start-up: {string.Join(" | ", errors.Take(5))}");
                try
                {
                    if ((await http.GetAsync(portkey.BaseUrl + "/", ct)).StatusCode == HttpStatusCode.OK) return portkey;
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline)
                {
                }
                if (DateTime.UtcNow > deadline) throw new TimeoutException("The peer gateway did not answer within 20 s.");
                await Task.Delay(100, ct);
            }
        }
        catch
        {
            await portkey.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
