using System.Diagnostics;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>Something wrk is pointed at: its origin, the extra headers it needs and its own processes.</summary>
internal sealed record Target(string Name, string BaseUrl, string[] Headers, Process[] Processes);
