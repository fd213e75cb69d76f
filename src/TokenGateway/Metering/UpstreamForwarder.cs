using System.Diagnostics;
using System.Net;
using System.Net.Security;
using Microsoft.Extensions.Options;
using TokenGateway.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace TokenGateway.Metering;

/// <summary>YARP direct forwarding to the configured upstream, as a well-behaved client of it (see <see cref="UpstreamRequestTransformer"/>).</summary>
internal sealed class UpstreamForwarder : IDisposable
{
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _client;
    private readonly ForwarderRequestConfig _config;
    private readonly HttpTransformer _transformer;
    private readonly UpstreamCertificateTrust? _trust;

    public UpstreamForwarder(IHttpForwarder forwarder, IOptions<GatewayOptions> options)
    {
        _forwarder = forwarder;
        var upstream = options.Value.Upstream;
        // NOTE: the request path already starts with /v1; accept a base URL written the OPENAI_BASE_URL way too.
        var prefix = upstream.BaseUrl.TrimEnd('/');
        if (prefix.EndsWith("/v1", StringComparison.OrdinalIgnoreCase)) prefix = prefix[..^3];
        DestinationPrefix = prefix;
        if (!string.IsNullOrEmpty(upstream.CaCertificateFile)) _trust = new UpstreamCertificateTrust(UpstreamCertificateTrust.Load(upstream.CaCertificateFile));
        _client = new HttpMessageInvoker(new UpstreamContentDecoder(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            // NOTE: no Accept-Encoding to the upstream (see UpstreamContentDecoder, which decodes a body compressed anyway).
            AutomaticDecompression = DecompressionMethods.None,
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(15),
            ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = _trust is null ? null : _trust.Validate },
        }));
        _config = new ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromSeconds(upstream.TimeoutSeconds) };
        _transformer = new UpstreamRequestTransformer(upstream);
    }

    public string DestinationPrefix { get; }

    public ValueTask<ForwarderError> SendAsync(HttpContext context) =>
        _forwarder.SendAsync(context, DestinationPrefix, _client, _config, _transformer);

    public void Dispose()
    {
        _client.Dispose();
        _trust?.Dispose();
    }
}
