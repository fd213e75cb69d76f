namespace TokenGateway.MockUpstream;

/// <summary>One request as the mock saw it: what the gateway forwarded.</summary>
public sealed record ReceivedRequest(string Method, string Path, string? Authorization, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>The <c>Host</c> header (HTTP/2: <c>:authority</c>).</summary>
    public string? Host { get; init; }

    /// <summary>The TLS SNI (server_name) of the connection; null over plain HTTP or when the client sent none.</summary>
    public string? Sni { get; init; }

    public bool IsHttps { get; init; }

    /// <summary>e.g. <c>HTTP/2</c>.</summary>
    public string Protocol { get; init; } = "";
}
