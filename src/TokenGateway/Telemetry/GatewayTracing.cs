using System.Diagnostics;

namespace TokenGateway.Telemetry;

/// <summary>The gateway's spans: one per proxied request, with reserve / upstream / settle children.</summary>
internal static class GatewayTracing
{
    public const string SourceName = "TokenGateway";

    public static readonly ActivitySource Source = new(SourceName);
}
