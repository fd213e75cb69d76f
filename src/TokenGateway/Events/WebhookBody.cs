using System.Globalization;
using System.Text.Json;
using TokenGateway.Billing;
using TokenGateway.Pricing;

namespace TokenGateway.Events;

/// <summary>The JSON a receiver gets for an outbox event.</summary>
internal static class WebhookBody
{
    /// <summary>
    /// <c>{"id","type","created_at","account_id","attempt","data":{…}}</c>. The id is stable across retries,
    /// so a receiver deduplicates on it. Amounts come as exact micro-USD and as USD.
    /// </summary>
    public static (string Type, byte[] Body) Build(EventRef e, string json, int attempt)
    {
        using var stored = JsonDocument.Parse(json);
        var root = stored.RootElement;
        var type = root.GetProperty("type").GetString()!;
        var createdAt = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(root.GetProperty("ts").GetString()!, CultureInfo.InvariantCulture));
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", $"{e.AccountId}/{e.EventId}");
            w.WriteString("type", type);
            w.WriteString("created_at", createdAt);
            w.WriteString("account_id", e.AccountId);
            w.WriteNumber("attempt", attempt);
            w.WriteStartObject("data");
            foreach (var p in root.GetProperty("data").EnumerateObject())
            {
                if (p.Name.EndsWith("_micros", StringComparison.Ordinal) && long.TryParse(p.Value.GetString(), CultureInfo.InvariantCulture, out var micros))
                {
                    w.WriteNumber(p.Name, micros);
                    w.WriteNumber(p.Name[..^"_micros".Length] + "_usd", Money.ToUsd(micros));
                }
                else
                {
                    p.WriteTo(w);
                }
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return (type, buffer.ToArray());
    }
}
