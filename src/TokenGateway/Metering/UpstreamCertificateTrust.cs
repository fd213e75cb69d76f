using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TokenGateway.Metering;

/// <summary>
/// Accepts the upstream's certificate when the system trusts it, or when it chains to a certificate of
/// <c>Upstream:CaCertificateFile</c> (a private CA, a test upstream's self-signed certificate).
/// </summary>
internal sealed class UpstreamCertificateTrust(X509Certificate2Collection authorities) : IDisposable
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    /// <summary>The certificates of a PEM file (one CA or a bundle); throws when the file holds none.</summary>
    public static X509Certificate2Collection Load(string file)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(Path.GetFullPath(file));
        if (certificates.Count == 0) throw new CryptographicException("the file holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
        return certificates;
    }

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None) return true;
        // NOTE: only an untrusted chain is reconsidered; a name mismatch or a missing certificate stays fatal.
        if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is not X509Certificate2 leaf) return false;
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(authorities);
        custom.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        // NOTE: no revocation check, as SslStream does by default for system trust; a private CA seldom publishes a CRL.
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            // The intermediates the server sent.
            custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
            foreach (var element in chain.ChainElements) custom.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        return custom.Build(leaf);
    }

    public void Dispose()
    {
        foreach (var certificate in authorities) certificate.Dispose();
    }
}
