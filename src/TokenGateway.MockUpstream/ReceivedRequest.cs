namespace TokenGateway.MockUpstream;

/// <summary>One request as the mock saw it: what the gateway forwarded.</summary>
public sealed record ReceivedRequest(string Method, string Path, string? Authorization, IReadOnlyDictionary<string, string> Headers, string Body);
