namespace TokenGateway.Metering;

/// <summary>What the hot path needs from a request body, read once without a DOM.</summary>
internal sealed record InspectedRequest(
    MeteredEndpoint Endpoint,
    string Model,
    bool Stream,
    int? MaxOutputTokens,
    int Choices,
    bool? IncludeUsage);
