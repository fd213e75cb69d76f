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

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>The key a client presented: <c>Authorization: Bearer</c>, else <c>api-key</c>, else <c>x-api-key</c>.</summary>
    public static string? FromRequest(HttpRequest request)
    {
        var auth = request.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return auth[7..].Trim();
        var key = request.Headers["api-key"].ToString();
        if (key.Length > 0) return key.Trim();
        key = request.Headers["x-api-key"].ToString();
        return key.Length > 0 ? key.Trim() : null;
    }
}
