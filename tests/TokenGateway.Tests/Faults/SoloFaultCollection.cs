namespace TokenGateway.Tests.Faults;

/// <summary>
/// The fault tests that kill processes, run a cluster or hold dozens of requests for seconds: run after the parallel
/// tests and one at a time, so that their load never pushes another test's Redis calls past the 1 s deadline (on a
/// loaded 2-core machine it did), nor theirs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SoloFaultCollection
{
    public const string Name = "Fault tests, one at a time";
}
