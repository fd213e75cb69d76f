namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// Something the load is pointed at: its origin, the extra headers it needs, the process whose CPU and memory are its
/// own, and its stats port (none for the node peer). A failure of an optional target (the peer gateway) skips it for
/// that case instead of stopping the benchmark.
/// </summary>
internal sealed record Target(string Name, string BaseUrl, string[] Headers, int Pid, int? StatsPort, bool IsGateway, string Settings, bool Optional = false);
