using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace TokenGateway.RateLimits;

/// <summary>A model's own limits inside a scope's (<see cref="RateLimitSettings.Models"/>).</summary>
internal sealed record ModelRateLimits(long? Rpm, long? Tpm);

/// <summary>
/// The rate limits of one scope (a key, a project or an account), as the admin API shows them and as ratelimit.lua reads
/// them: requests and tokens per minute, requests per day, requests in flight, and per model requests and tokens per
/// minute. Null: no such limit. Stored as this JSON (snake_case, nulls left out) in the account hash: <c>rl:k:&lt;key id&gt;</c>,
/// <c>rl:p:&lt;project&gt;</c>, <c>rl:a</c>, which the reserve script reads in the same HMGET as the other limits.
/// </summary>
internal sealed partial record RateLimitSettings(long? Rpm, long? Tpm, long? Rpd, long? MaxInFlight, IReadOnlyDictionary<string, ModelRateLimits>? Models)
{
    public static readonly RateLimitSettings None = new(null, null, null, null, null);

    /// <summary>The largest limit: far above any real one, and exact in Lua's doubles.</summary>
    public const long MaxLimit = 1_000_000_000_000;

    /// <summary>At most this many models per scope: each is a bucket the reserve checks.</summary>
    public const int MaxModels = 50;

    private static readonly JsonSerializerOptions Stored = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// A model name as a limit names it: the exact name a request sends (no prefixes). Letters, digits and <c>. _ : / -</c>
    /// only, because ratelimit.lua writes it into field names and its request records (spaces and <c>=</c> separate those).
    /// </summary>
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}\z")]
    public static partial Regex ModelPattern();

    public bool IsEmpty => Rpm is null && Tpm is null && Rpd is null && MaxInFlight is null && (Models is null || Models.Count == 0);

    /// <summary>The stored form; empty when there is no limit (the field is then removed).</summary>
    public string ToStored() => IsEmpty ? "" : JsonSerializer.Serialize(this with { Models = Models is { Count: > 0 } ? Models : null }, Stored);

    public static RateLimitSettings FromStored(string? stored) =>
        string.IsNullOrEmpty(stored) ? None : JsonSerializer.Deserialize<RateLimitSettings>(stored, Stored) ?? None;
}
