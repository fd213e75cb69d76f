using System.Diagnostics;
using System.Globalization;
using TokenGateway.Testing;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>
/// The built gateway (TokenGateway.dll, copied next to the tests) as a child process, `dotnet TokenGateway.dll`, configured on
/// its command line: a replica that a test can SIGKILL (no shutdown, no settle, no final heartbeat), which an in-process
/// <see cref="GatewayHost"/> cannot be.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;

    private GatewayProcess(Process process, string baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    /// <param name="settings">The TokenGateway section, e.g. <c>["Redis:Configuration"] = …</c>.</param>
    public static async Task<GatewayProcess> StartAsync(IDictionary<string, string> settings)
    {
        var port = LoopbackPort.Free();
        var baseUrl = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(GatewayDll())! };
        start.ArgumentList.Add(GatewayDll());
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(baseUrl);
        foreach (var (k, v) in settings) start.ArgumentList.Add($"--TokenGateway:{k}={v}");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var gateway = new GatewayProcess(process, baseUrl);
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(5) };
        if (!await ChatLoad.EventuallyAsync(async () => (await http.GetAsync("/readyz")).IsSuccessStatusCode, TimeSpan.FromSeconds(30)))
        {
            await gateway.DisposeAsync();
            throw new TimeoutException($"the gateway process (exited: {process.HasExited}) did not get ready within 30 s.");
        }
        return gateway;
    }

    /// <summary>SIGKILL: the process ends at once, in the middle of whatever it was doing.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill();
        _process.WaitForExit(5000);
    }

    /// <summary>TokenGateway.dll as copied next to the tests (with its runtimeconfig, deps and pricing.json).</summary>
    private static string GatewayDll() => Path.Combine(AppContext.BaseDirectory, "TokenGateway.dll");

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
