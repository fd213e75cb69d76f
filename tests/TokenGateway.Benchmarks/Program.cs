using BenchmarkDotNet.Running;
using TokenGateway.Benchmarks.Proxy;
using TokenGateway.Benchmarks.RedisMemory;
using TokenGateway.Benchmarks.RedisRoundTrip;

namespace TokenGateway.Benchmarks;

public static class Program
{
    /// <summary>
    /// <c>proxy [options]</c> runs the load benchmark of the proxy (<c>serve-*</c> are its arms' processes);
    /// <c>redis-memory [options]</c> measures what settled requests leave in Redis; <c>redis-rtt [options]</c> a Redis round
    /// trip after idle gaps; anything else goes to BenchmarkDotNet.
    /// </summary>
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "proxy") return await ProxyBenchmark.RunAsync(args[1..]);
        // The proxy benchmark re-invokes this program as each arm's own process.
        if (args.Length > 0 && ArmServer.IsCommand(args[0])) return await ArmServer.RunAsync(args[0], args[1..]);
        if (args.Length > 0 && args[0] == "redis-memory") return await RedisMemoryBenchmark.RunAsync(args[1..]);
        if (args.Length > 0 && args[0] == "redis-rtt") return await RedisRoundTripBenchmark.RunAsync(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
