using System.Security.Cryptography.X509Certificates;
using TokenGateway.MockUpstream;

namespace TokenGateway.Tests.Infrastructure;

public static class MockUpstreamClient
{
    /// <summary>An HttpClient straight to the mock, trusting its self-signed certificate (HTTPS mock) and nothing else.</summary>
    public static HttpClient Create(MockUpstreamServer mock)
    {
        var handler = new SocketsHttpHandler();
        if (mock.Certificate is { } certificate)
        {
            handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { certificate },
                RevocationMode = X509RevocationMode.NoCheck,
            };
        }
        return new HttpClient(handler) { BaseAddress = new Uri(mock.BaseUrl) };
    }
}
