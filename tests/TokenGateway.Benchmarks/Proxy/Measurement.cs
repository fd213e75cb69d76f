namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// One timed run of one target. CPU figures are seconds over the run; <see cref="ChargedMicros"/> is
/// the gateway's balance drop during the run (null for other targets).
/// </summary>
internal sealed record Measurement(
    string Target, bool Stream, int Connections, WrkResult Wrk, double ServersCpu, double MachineCpu, double LoadAverage, long? ChargedMicros)
{
    /// <summary>CPU the machine spent on neither the servers nor wrk: other people's work, the noise.</summary>
    public double OtherCpu => Math.Max(0, MachineCpu - ServersCpu - Wrk.WrkCpuSeconds);
}
