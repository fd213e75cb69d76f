using System.Diagnostics;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// Something wrk is pointed at: its origin, the extra headers it needs and its own processes. A failure of
/// an optional target (the peer gateway) skips it for that mode instead of stopping the benchmark.
/// </summary>
internal sealed record Target(string Name, string BaseUrl, string[] Headers, Process[] Processes, bool Optional = false);
