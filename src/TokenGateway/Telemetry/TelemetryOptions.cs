namespace TokenGateway.Telemetry;

/// <summary>Settings under <c>TokenGateway:Telemetry</c>.</summary>
internal sealed class TelemetryOptions
{
    public const string Section = "TokenGateway:Telemetry";

    /// <summary>How often the balance and held gauges are read from Redis.</summary>
    public double BalanceRefreshSeconds { get; set; } = 15;
}
