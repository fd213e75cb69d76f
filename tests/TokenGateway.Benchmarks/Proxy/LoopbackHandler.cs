using System.Net;
using System.Net.Security;
using TokenGateway.Metering;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>The harness's own HTTP clients: no proxy, no decompression, and an HTTPS mock's certificate trusted as the gateway trusts it.</summary>
internal static class LoopbackHandler
{
    public static SocketsHttpHandler Create(string? caFile, int maxConnections = int.MaxValue)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = maxConnections,
            AutomaticDecompression = DecompressionMethods.None,
        };
        if (caFile is not null)
        {
            // NOTE: the trust object lives as long as the process; the harness makes a handful of these clients.
            var trust = new UpstreamCertificateTrust(UpstreamCertificateTrust.Load(caFile));
            handler.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = trust.Validate };
        }
        return handler;
    }
}
