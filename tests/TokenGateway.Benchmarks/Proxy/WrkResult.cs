namespace TokenGateway.Benchmarks.Proxy;

/// <summary>What wrk and the script's <c>done()</c> reported for one timed run. Latencies in ms.</summary>
internal sealed record WrkResult(
    long Requests, double DurationSeconds, long Ok, long Non200, long Incomplete, long SocketErrors,
    double P50, double P90, double P99, double Max, double WrkCpuSeconds)
{
    public double RequestsPerSecond => Requests / DurationSeconds;
}
