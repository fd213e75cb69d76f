namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// Something the load is pointed at: its origin, the extra headers it needs, the process whose CPU and memory are its
/// own, and its stats port (none for the node peer). A failure of an optional target (the peer gateway) skips it for
/// that case instead of stopping the benchmark. A gateway target sends the key of its <paramref name="Account"/> (the
/// benchmark's funded account when null): the rate-limited target is the default gateway arm with another account's key.
/// A <paramref name="Floor"/> target is bare YARP with the gateway's two Redis round trips (<c>--floor</c>): no metering,
/// but its Redis figures are read as a gateway's are.
/// </summary>
internal sealed record Target(
    string Name, string BaseUrl, string[] Headers, int Pid, int? StatsPort, bool IsGateway, string Settings, bool Optional = false, BenchAccount? Account = null,
    bool Floor = false)
{
    public bool UsesRedis => IsGateway || Floor;
}
