using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TokenGateway.Hosting;
using TokenGateway.Metering;
using TokenGateway.MockUpstream;
using TokenGateway.Pricing;
using TokenGateway.Redis;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// The child side of an arm: <c>serve-mock</c>, <c>serve-yarp --upstream URL [--redis HOST:PORT [--round-trip ping]]</c> or
/// <c>serve-gateway --upstream URL --redis HOST:PORT</c> starts that one server on 127.0.0.1:0 in this process, opens
/// its <see cref="StatsListener"/>, prints one <see cref="ReadyPrefix"/> line of JSON on stdout and serves until its
/// stdin closes (the harness ended or died) or SIGTERM.
/// </summary>
/// <remarks>
/// NOTE: one process per arm, so that /proc tells the CPU time and memory of the mock, bare YARP and the gateway
/// apart, and the runtime's own counters (allocated bytes, GCs, JIT) belong to one arm only.
/// </remarks>
internal static class ArmServer
{
    public const string ReadyPrefix = "TGBENCH-READY ";
    public const string AdminToken = "bench-admin-token-0123456789";

    public static bool IsCommand(string command) => command is "serve-mock" or "serve-yarp" or "serve-gateway";

    public static async Task<int> RunAsync(string command, string[] args)
    {
        string? Optional(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        string Arg(string name) => Optional(name) ?? throw new ArgumentException($"{command} needs {name}.");
        await using var stats = StatsListener.Start();
        var ready = new Dictionary<string, object> { ["stats_port"] = stats.Port };
        Func<Task> waitForShutdown;
        IAsyncDisposable server;
        switch (command)
        {
            case "serve-mock":
                var https = Optional("--https") == "on";
                var mock = await MockUpstreamServer.StartAsync(new MockUpstreamOptions { GzipWhenAccepted = Arg("--gzip") == "on" }, recordRequests: false, https: https);
                (server, waitForShutdown, ready["url"]) = (mock, mock.WaitForShutdownAsync, mock.BaseUrl);
                if (https)
                {
                    // The proxies trust the mock's self-signed certificate from this file (the gateway as Upstream:CaCertificateFile).
                    var pem = Path.Combine(Path.GetTempPath(), $"tg-bench-mock-{Environment.ProcessId}.pem");
                    await File.WriteAllTextAsync(pem, mock.CertificatePem);
                    ready["ca_file"] = pem;
                    server = new Cleanup(mock, pem);
                }
                break;
            case "serve-yarp":
                var yarp = await BareForwarder.StartAsync(Arg("--upstream"), Optional("--ca-file"), Optional("--redis"), ping: Optional("--round-trip") == "ping");
                (server, waitForShutdown, ready["url"]) = (yarp, yarp.WaitForShutdownAsync, yarp.BaseUrl);
                stats.RedisOperations = () => yarp.RedisOperations;
                break;
            default:
                var gateway = await StartGatewayAsync(Arg("--upstream"), Arg("--redis"), Optional("--ca-file"));
                (server, waitForShutdown, ready["url"]) = (gateway, () => gateway.WaitForShutdownAsync(), gateway.Urls.First().TrimEnd('/'));
                ready["cost_micros"] = CostOfOneRequest(gateway);
                var connector = gateway.Services.GetRequiredService<RedisConnector>();
                // NOTE: the client's own count of commands sent: the round trips, which the server's command counts cannot
                // tell apart from the commands its Lua scripts call.
                stats.RedisOperations = () => connector.Multiplexer is { IsCompletedSuccessfully: true } m ? m.Result.OperationCount : 0;
                break;
        }
        await using (server)
        {
            Console.WriteLine(ReadyPrefix + JsonSerializer.Serialize(ready));
            Console.Out.Flush();
            await Task.WhenAny(ParentGone(), waitForShutdown());
        }
        return 0;
    }

    /// <summary>Completes when stdin reaches its end: the harness closed it, or died.</summary>
    private static Task ParentGone()
    {
        var gone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // NOTE: a thread of its own, not the thread pool's: a pool thread blocked for the whole run would change how the
        // pool of the server under test grows.
        new Thread(() =>
        {
            Console.In.ReadToEnd();
            gone.TrySetResult();
        }) { IsBackground = true, Name = "parent-watch" }.Start();
        return gone.Task;
    }

    private static async Task<WebApplication> StartGatewayAsync(string upstream, string redis, string? caFile)
    {
        string[] args =
        [
            .. caFile is null ? Array.Empty<string>() : [$"--TokenGateway:Upstream:CaCertificateFile={caFile}"],
            "--urls", "http://127.0.0.1:0",
            "--contentRoot", AppContext.BaseDirectory,
            $"--TokenGateway:Upstream:BaseUrl={upstream}",
            "--TokenGateway:Upstream:ApiKey=sk-bench-upstream",
            $"--TokenGateway:Redis:Configuration={redis}",
            $"--TokenGateway:Admin:Token={AdminToken}",
        ];
        // NOTE: no logging providers, as in the tests: a console logger would measure the terminal (and this stdout is
        // the harness's channel).
        var app = GatewayApplication.Build(args, builder => builder.Logging.ClearProviders());
        await app.StartAsync();
        return app;
    }

    /// <summary>What one benchmark request must cost: the pricing file's price of the mock's fixed usage.</summary>
    private static long CostOfOneRequest(WebApplication gateway)
    {
        var mock = new MockUpstreamOptions();
        var price = gateway.Services.GetRequiredService<PricingCatalog>().Current.Find(ChatRequest.Model)
            ?? throw new InvalidOperationException($"{ChatRequest.Model} has no price.");
        var usage = new TokenUsage(mock.PromptTokens ?? throw new InvalidOperationException("The mock must report fixed prompt tokens."),
            mock.CachedTokens, mock.CompletionTokens);
        return price.Price.Cost(usage).Micros;
    }

    /// <summary>Stops the mock, then deletes its certificate file.</summary>
    private sealed class Cleanup(IAsyncDisposable server, string file) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await server.DisposeAsync();
            File.Delete(file);
        }
    }

    public static string Describe(IReadOnlyDictionary<string, string> env) =>
        env.Count == 0 ? "no overrides" : string.Join(' ', env.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Key}={e.Value}")));
}
