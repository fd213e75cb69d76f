using BenchmarkDotNet.Running;
using TokenGateway.Benchmarks.Proxy;

namespace TokenGateway.Benchmarks;

public static class Program
{
    /// <summary><c>proxy [options]</c> runs the load benchmark of the proxy; anything else goes to BenchmarkDotNet.</summary>
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "proxy") return await ProxyBenchmark.RunAsync(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
