using TokenGateway.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace TokenGateway.Metering;

/// <summary>
/// Makes the forwarded request look like one a well-behaved client sends to the upstream itself: the upstream's
/// Host, the provider key and organization/project, and no header meant for the hop between client and gateway.
/// </summary>
internal sealed class UpstreamRequestTransformer(UpstreamOptions upstream) : HttpTransformer
{
    // NOTE: the header's text once, not a parsed value per request (sent as is, like any header of the client's).
    private readonly string? _authorization = string.IsNullOrEmpty(upstream.ApiKey) ? null : "Bearer " + upstream.ApiKey;

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        // NOTE: the base copies every request header but a fixed hop-by-hop list (Connection, Keep-Alive, TE but
        // "trailers" over HTTP/2, Upgrade, Transfer-Encoding, the common Proxy-* ones…): Host included.
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        // NOTE: as YARP's direct-forwarding sample does: without a Host header, HttpClient sends the destination's
        // authority as Host (and as TLS SNI); the client's (the gateway's address) would be refused by a CDN edge.
        proxyRequest.Headers.Host = null;
        RemoveHopHeaders(httpContext.Request.Headers, proxyRequest);
        // NOTE: the gateway reads every answer, so it asks for none compressed (the client's Accept-Encoding was for
        // the hop to the gateway); an answer that still comes compressed is decoded by UpstreamContentDecoder.
        proxyRequest.Headers.Remove("Accept-Encoding");
        proxyRequest.Headers.Remove("api-key");
        proxyRequest.Headers.Remove("x-api-key");
        proxyRequest.Headers.Authorization = null;
        if (_authorization is not null) proxyRequest.Headers.TryAddWithoutValidation("Authorization", _authorization);
        Replace(proxyRequest, "OpenAI-Organization", upstream.Organization);
        Replace(proxyRequest, "OpenAI-Project", upstream.Project);
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var copyBody = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        // NOTE: the body goes to the client without its length (chunked on HTTP/1.1), so its end reaches the client when
        // the handler returns, after the settle: a client that reads its balance right after an answer sees the answer
        // charged. An inflated body had no length anyway; one that comes uncompressed (issue 14) must not end sooner.
        httpContext.Response.ContentLength = null;
        return copyBody;
    }

    private static void RemoveHopHeaders(IHeaderDictionary client, HttpRequestMessage proxyRequest)
    {
        // NOTE: RFC 9110 §7.6.1: the fields a client names in Connection are for the hop to the gateway only. The
        // provider's key and organization are set after this, so naming them here cannot remove them.
        foreach (var name in client.GetCommaSeparatedValues("Connection")) Remove(proxyRequest, name);
        foreach (var (name, _) in client)
        {
            // NOTE: Proxy-* speaks to a proxy on the client's side (its credentials among them), never to the upstream;
            // YARP drops the known names, this drops them all. Keep-Alive, TE, Upgrade: the upstream connection is
            // the gateway's own, and no OpenAI endpoint uses trailers or an upgrade.
            // Forwarded, X-Forwarded-*, X-Real-IP: the upstream is a third party, not our infrastructure; relayed,
            // they would hand it the client's network path and let a client claim any address under our key.
            // A client talking to the upstream directly sends none of these.
            if (name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Forwarded", StringComparison.OrdinalIgnoreCase)
                || name.Equals("X-Real-IP", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase)
                || name.Equals("TE", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase))
            {
                Remove(proxyRequest, name);
            }
        }
    }

    private static void Replace(HttpRequestMessage proxyRequest, string name, string? value)
    {
        proxyRequest.Headers.Remove(name);
        if (!string.IsNullOrEmpty(value)) proxyRequest.Headers.TryAddWithoutValidation(name, value);
    }

    private static void Remove(HttpRequestMessage proxyRequest, string name)
    {
        // NOTE: Remove throws on a name HttpClient does not accept there (a malformed Connection token, a content
        // header asked of the request headers): look first, without validation.
        if (proxyRequest.Headers.NonValidated.Contains(name)) proxyRequest.Headers.Remove(name);
        else if (proxyRequest.Content?.Headers.NonValidated.Contains(name) == true) proxyRequest.Content.Headers.Remove(name);
    }
}
