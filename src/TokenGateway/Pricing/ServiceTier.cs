namespace TokenGateway.Pricing;

/// <summary>OpenAI's processing tiers that have their own prices. Anything else a response reports (default, auto, scale) is standard.</summary>
internal enum ServiceTier { Default, Flex, Priority }

internal static class ServiceTiers
{
    public static ServiceTier Parse(string? reported) => reported switch
    {
        "flex" => ServiceTier.Flex,
        "priority" => ServiceTier.Priority,
        _ => ServiceTier.Default,
    };

    public static string Name(this ServiceTier tier) => tier switch
    {
        ServiceTier.Flex => "flex",
        ServiceTier.Priority => "priority",
        _ => "default",
    };
}
