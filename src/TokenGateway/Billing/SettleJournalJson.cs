using System.Text.Json.Serialization;

namespace TokenGateway.Billing;

/// <summary>One line of the settle journal: a queued settle (<see cref="Seq"/>, <see cref="AtMs"/>, <see cref="Settle"/>) or the acknowledgement of one (<see cref="Ack"/>).</summary>
internal sealed class JournalLine
{
    public long? Seq { get; init; }
    public long? AtMs { get; init; }
    public SettleRequest? Settle { get; init; }
    public long? Ack { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JournalLine))]
internal sealed partial class SettleJournalJson : JsonSerializerContext;
