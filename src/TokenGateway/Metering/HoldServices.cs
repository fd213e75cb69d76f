using TokenGateway.Billing;
using TokenGateway.Telemetry;

namespace TokenGateway.Metering;

/// <summary>
/// What every <see cref="HeldRequest"/> works with: the store, the settle journal, the heartbeat, the metrics, and the
/// settles that run after their answers.
/// </summary>
internal sealed record HoldServices(BillingStore Billing, SettleJournal Journal, HoldHeartbeat Heartbeat, GatewayMetrics Metrics, PendingSettles Pending);
