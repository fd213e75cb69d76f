using System.Security.Cryptography;
using System.Text;
using TokenGateway.Errors;

namespace TokenGateway.Admin;

/// <summary>Bearer admin token, compared in constant time (hashes first, so length does not leak either).</summary>
internal sealed class AdminAuthFilter(string token) : IEndpointFilter
{
    private readonly byte[] _expected = SHA256.HashData(Encoding.UTF8.GetBytes(token));

    public static readonly IResult Unauthorized = OpenAIError.Result(StatusCodes.Status401Unauthorized, "invalid_request_error", "invalid_admin_token",
        "The admin API needs Authorization: Bearer <admin token>.");

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        IsAdmin(context.HttpContext.Request) ? await next(context) : Unauthorized;

    /// <summary>Whether the request presents the admin token (<c>Authorization: Bearer</c>).</summary>
    public bool IsAdmin(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : "";
        return CryptographicOperations.FixedTimeEquals(_expected, SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
    }
}
