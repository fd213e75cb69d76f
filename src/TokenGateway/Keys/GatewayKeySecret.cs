using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace TokenGateway.Keys;

/// <summary>Gateway keys: <c>tg-</c> + 256 random bits, shown once, stored only as SHA-256.</summary>
internal static class GatewayKeySecret
{
    public const string Prefix = "tg-";

    public static string Generate() => Prefix + WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    public static string NewKeyId() => "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    /// <summary>Characters of <see cref="Hash"/>: SHA-256 in lower-case hex.</summary>
    public const int HashLength = 64;

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>
    /// <see cref="Hash"/> into <paramref name="hex"/> (<see cref="HashLength"/> chars), allocating nothing: the hot path
    /// hashes every request's key. False for a secret too long to hash on the stack (no gateway key is).
    /// </summary>
    public static bool TryHash(ReadOnlySpan<char> secret, Span<char> hex)
    {
        Span<byte> utf8 = stackalloc byte[256];
        if (Encoding.UTF8.GetMaxByteCount(secret.Length) > utf8.Length) return false;
        var length = Encoding.UTF8.GetBytes(secret, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        return Convert.TryToHexStringLower(hash, hex, out _);
    }

    /// <summary>
    /// The key a client presented: <c>Authorization: Bearer</c>, else <c>api-key</c>, else <c>x-api-key</c>; a slice of
    /// the header (nothing allocated), empty when there is none.
    /// </summary>
    public static ReadOnlySpan<char> Presented(HttpRequest request)
    {
        var auth = request.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return auth.AsSpan(7).Trim();
        var key = request.Headers["api-key"].ToString();
        if (key.Length > 0) return key.AsSpan().Trim();
        return request.Headers["x-api-key"].ToString().AsSpan().Trim();
    }
}
