namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// One timed run of one target and case: the load's figures (wrk's, or the paced-stream client's) and what it cost.
/// CPU figures are seconds over the run; <see cref="ChargedMicros"/> is a gateway's balance drop during the run.
/// </summary>
/// <param name="Round">Which round of <c>--rounds</c> (1-based; 0 when there is one).</param>
internal sealed record Measurement(
    string Target, BenchCaseKey Case, int Connections, WrkResult? Wrk, TtftResult? Ttft, RunCost Cost, double LoadAverage, long? ChargedMicros, int Round = 0)
{
    /// <summary>The target as the report's tables name it: with its round when there are several.</summary>
    public string Label => Round == 0 ? Target : $"{Target} #{Round}";

    public long Requests => Wrk?.Requests ?? (Ttft!.Ok + Ttft.Non200 + Ttft.Incomplete);
    public long Ok => Wrk?.Ok ?? Ttft!.Ok;
    public double RequestsPerSecond => Wrk?.RequestsPerSecond ?? Ttft!.RequestsPerSecond;
    public double Seconds => Wrk?.DurationSeconds ?? Ttft!.Seconds;
}

/// <summary>A case's name and whether it streams (the paced-stream case is not a <see cref="BenchCase"/> of wrk).</summary>
internal sealed record BenchCaseKey(string Name, string Title, bool Stream);

/// <summary>
/// What a run cost, per process: CPU seconds of the arm, of the mock behind it and of redis-server; the arm's resident
/// memory; the arm's runtime counters, the Redis commands and the gateway's stage histograms over the run (null where not
/// read).
/// </summary>
internal sealed record RunCost(
    double ArmCpu, double MockCpu, double RedisCpu, double MachineCpu, double WrkCpu,
    long RssPeak, long RssAverage, RuntimeStats? Runtime, RedisStats? Redis, GatewayStages? Stages = null);
