using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using static System.FormattableString;

namespace TokenGateway.RateLimits;

/// <summary>A model's own limits inside a scope's (<see cref="RateLimitSettings.Models"/>).</summary>
internal sealed record ModelRateLimits(long? Rpm, long? Tpm);

/// <summary>
/// The rate limits of one scope (a key, a project or an account), as the admin API shows them and as ratelimit.lua reads
/// them: requests and tokens per minute, requests per day, requests in flight, and per model requests and tokens per
/// minute. Null: no such limit. Stored (<see cref="ToStored"/>) in the account hash: <c>rl:k:&lt;key id&gt;</c>,
/// <c>rl:p:&lt;project&gt;</c>, <c>rl:a</c>, which the reserve script reads in the same HMGET as the other limits.
/// </summary>
internal sealed partial record RateLimitSettings(long? Rpm, long? Tpm, long? Rpd, long? MaxInFlight, IReadOnlyDictionary<string, ModelRateLimits>? Models)
{
    public static readonly RateLimitSettings None = new(null, null, null, null, null);

    /// <summary>The largest limit: far above any real one, and exact in Lua's doubles.</summary>
    public const long MaxLimit = 1_000_000_000_000;

    /// <summary>At most this many models per scope: each is a bucket the reserve checks.</summary>
    public const int MaxModels = 50;

    /// <summary>The JSON form limits were stored in before <see cref="ToStored"/>'s.</summary>
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// A model name as a limit names it: the exact name a request sends (no prefixes). Letters, digits and <c>. _ : / -</c>
    /// only, because ratelimit.lua writes it into field names, stored limits and request records (spaces, <c>=</c> and <c>,</c> separate those).
    /// </summary>
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}\z")]
    public static partial Regex ModelPattern();

    public bool IsEmpty => Rpm is null && Tpm is null && Rpd is null && MaxInFlight is null && (Models is null || Models.Count == 0);

    /// <summary>
    /// The stored form, which ratelimit.lua reads without decoding JSON or parsing text (either cost more Redis time than
    /// the limits' arithmetic, issue 16). First the text form <c>&lt;rpm&gt; &lt;tpm&gt; &lt;rpd&gt; &lt;max in flight&gt;</c>,
    /// 0 for no such limit (a limit is at least 1), then <c> &lt;model&gt;=&lt;rpm&gt;,&lt;tpm&gt;</c> per model in ordinal
    /// order; then a 0 byte and the four scope limits again as little-endian doubles (Lua's struct <c>'&lt;dddd'</c>), which
    /// the reserve unpacks in one call where matching the text took ten times as many instructions (callgrind,
    /// docs/benchmarks/proxy.md). NOTE: the text comes first so that a replica of the version before, which matches it
    /// from the start, still reads limits written by this one during a rolling upgrade. Empty when there is no limit
    /// (the field is then removed).
    /// </summary>
    public byte[] ToStored()
    {
        if (IsEmpty) return [];
        var s = new StringBuilder().Append(Invariant($"{Rpm ?? 0} {Tpm ?? 0} {Rpd ?? 0} {MaxInFlight ?? 0}"));
        foreach (var (model, limits) in (Models ?? new Dictionary<string, ModelRateLimits>()).OrderBy(m => m.Key, StringComparer.Ordinal))
            s.Append(Invariant($" {model}={limits.Rpm ?? 0},{limits.Tpm ?? 0}"));
        var text = Encoding.ASCII.GetBytes(s.ToString());
        var stored = new byte[text.Length + 1 + PackedLength];
        text.CopyTo(stored, 0);
        var packed = stored.AsSpan(text.Length + 1);
        BinaryPrimitives.WriteDoubleLittleEndian(packed, Rpm ?? 0);
        BinaryPrimitives.WriteDoubleLittleEndian(packed[8..], Tpm ?? 0);
        BinaryPrimitives.WriteDoubleLittleEndian(packed[16..], Rpd ?? 0);
        BinaryPrimitives.WriteDoubleLittleEndian(packed[24..], MaxInFlight ?? 0);
        return stored;
    }

    /// <summary>The packed scope limits after the text and its 0 byte: four doubles.</summary>
    private const int PackedLength = 4 * sizeof(double);

    /// <summary>Reads <see cref="ToStored"/>'s form (its text), the text alone stored before it, or the JSON (snake_case, nulls left out) stored before that.</summary>
    public static RateLimitSettings FromStored(byte[]? stored)
    {
        if (stored is null || stored.Length == 0) return None;
        if (stored[0] == (byte)'{') return JsonSerializer.Deserialize<RateLimitSettings>(stored, Json) ?? None;
        var end = Array.IndexOf(stored, (byte)0);
        var parts = Encoding.ASCII.GetString(stored, 0, end < 0 ? stored.Length : end).Split(' ');
        Dictionary<string, ModelRateLimits>? models = null;
        foreach (var part in parts.Skip(4))
        {
            var (model, limits) = (part[..part.IndexOf('=')], part[(part.IndexOf('=') + 1)..].Split(','));
            (models ??= new(StringComparer.Ordinal))[model] = new ModelRateLimits(Limit(limits[0]), Limit(limits[1]));
        }
        return new RateLimitSettings(Limit(parts[0]), Limit(parts[1]), Limit(parts[2]), Limit(parts[3]), models);
    }

    private static long? Limit(string stored) => long.Parse(stored, CultureInfo.InvariantCulture) is var limit and > 0 ? limit : null;
}
