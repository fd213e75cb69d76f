using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using TokenGateway.Configuration;

namespace TokenGateway.Admin;

/// <summary>
/// Who calls the admin API (or signs in to the console): the platform admin (the configured admin token, every
/// account) or a team admin (a team-scoped admin key, its own account only).
/// </summary>
/// <param name="AccountId">The one account a team admin manages; null for the platform admin.</param>
/// <param name="AdminKeyId">The team admin's key; null for the platform admin.</param>
internal sealed record AdminPrincipal(string? AccountId, string? AdminKeyId)
{
    public static readonly AdminPrincipal Platform = new(null, null);

    public bool IsPlatform => AccountId is null;

    public bool CanAccess(string accountId) => IsPlatform || string.Equals(AccountId, accountId, StringComparison.Ordinal);

    /// <summary>The principal a request authenticated as (set by <see cref="AdminAuthFilter"/>).</summary>
    public static AdminPrincipal? Of(HttpContext context) => context.Features.Get<AdminPrincipal>();
}

/// <summary>
/// The one place a presented credential becomes an <see cref="AdminPrincipal"/>: the admin API's filter, the console's
/// sign-in and the OpenAI-compatible read APIs all ask here.
/// </summary>
internal sealed class AdminPrincipals(IOptions<GatewayOptions> options, AdminKeyStore adminKeys)
{
    // NOTE: hashes compared in constant time, so neither the token nor its length leaks through timing.
    private readonly byte[]? _token = string.IsNullOrEmpty(options.Value.Admin.Token) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(options.Value.Admin.Token));

    /// <summary>Null when the credential is neither the admin token nor a live team admin key.</summary>
    public async Task<AdminPrincipal?> ResolveAsync(string? presented)
    {
        if (string.IsNullOrEmpty(presented) || _token is null) return null;
        if (CryptographicOperations.FixedTimeEquals(_token, SHA256.HashData(Encoding.UTF8.GetBytes(presented)))) return AdminPrincipal.Platform;
        return await adminKeys.FindAsync(presented) is { } key ? new AdminPrincipal(key.AccountId, key.Id) : null;
    }

    /// <summary>From <c>Authorization: Bearer</c>.</summary>
    public Task<AdminPrincipal?> ResolveAsync(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return ResolveAsync(header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null);
    }
}

/// <summary>Endpoint metadata: only the platform admin may call this route (creating accounts, granting credit, admin keys).</summary>
internal sealed class PlatformOnly
{
    public static readonly PlatformOnly Instance = new();
}
