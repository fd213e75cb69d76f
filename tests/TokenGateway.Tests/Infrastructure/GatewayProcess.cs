using System.Diagnostics;
using System.Globalization;
using TokenGateway.Testing;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>
/// The built gateway (src/TokenGateway's TokenGateway.dll) as a child process, `dotnet TokenGateway.dll`, configured on
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
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(2) };
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

    /// <summary>TokenGateway.dll as built next to this test project (same configuration: bin/Release or bin/Debug).</summary>
    private static string GatewayDll()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        var framework = here.Name;
        var configuration = here.Parent!.Name;
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "TokenGateway.sln"))) root = root.Parent;
        var dll = Path.Combine(root?.FullName ?? throw new InvalidOperationException("TokenGateway.sln not found above the test binaries."),
            "src", "TokenGateway", "bin", configuration, framework, "TokenGateway.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing: build the solution first.");
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
