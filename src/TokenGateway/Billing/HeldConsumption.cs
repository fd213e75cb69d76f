using TokenGateway.Metering;
using TokenGateway.Pricing;

namespace TokenGateway.Billing;

/// <summary>
/// What an in-flight request has consumed so far (priced like a stream cut before its usage: the input, the output
/// streamed), recorded by the heartbeat and charged if the hold's lease ends (its replica died).
/// </summary>
/// <param name="Model">The priced model's label, never the raw client string.</param>
internal sealed record HeldConsumption(string RequestId, string Model, Charge Charge, TokenUsage Usage, TimeSpan SettledMarkerLifetime);
