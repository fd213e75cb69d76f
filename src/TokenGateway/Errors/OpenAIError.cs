using System.Text.Json;
using StackExchange.Redis;

namespace TokenGateway.Errors;

/// <summary>
/// Errors in OpenAI's shape, so every SDK surfaces <c>error.code</c>: the one serializer of the gateway's own
/// errors (the proxy writes them directly, minimal-API handlers return them as an <see cref="IResult"/>).
/// Never echoes key material.
/// </summary>
internal static class OpenAIError
{
    /// <param name="headers">Sets headers of this answer (the response's are cleared first).</param>
    public static async Task WriteAsync(HttpContext context, int status, string type, string code, string message, string? param = null, int? retryAfterSeconds = null,
        Action<IHeaderDictionary>? headers = null)
    {
        // NOTE: nobody is left to read an answer to a client that is gone, and a started response cannot change status.
        if (context.Response.HasStarted || context.RequestAborted.IsCancellationRequested) return;
        context.Response.Clear();
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        if (type == "insufficient_quota")
        {
            // NOTE: OpenAI's SDKs honour x-should-retry; a quota 429 must not be retried (and has no Retry-After).
            context.Response.Headers["x-should-retry"] = "false";
        }
        if (retryAfterSeconds is int seconds) context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        headers?.Invoke(context.Response.Headers);
        await using var writer = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", message);
        writer.WriteString("type", type);
        if (param is null) writer.WriteNull("param");
        else writer.WriteString("param", param);
        writer.WriteString("code", code);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>The same error as an <see cref="IResult"/>, for minimal-API handlers and filters.</summary>
    public static IResult Result(int status, string type, string code, string message, string? param = null) =>
        new ErrorResult(status, type, code, message, param);

    /// <summary>A client string as an error message may quote it: at most the first 100 characters.</summary>
    public static string Quote(string clientString) => clientString.Length <= 100 ? clientString : clientString[..100] + "…";

    /// <summary>The 401 of a missing, unknown, revoked or expired gateway key (the proxy's <c>Refusal.InvalidKey</c> says the same).</summary>
    public const string InvalidApiKeyMessage = "Incorrect API key provided, or the key was revoked or has expired. Use a TokenGateway key (tg-…) issued to your team.";

    public static Task InvalidApiKey(HttpContext c) =>
        WriteAsync(c, StatusCodes.Status401Unauthorized, "invalid_request_error", "invalid_api_key", InvalidApiKeyMessage);

    /// <summary>The one mapping of a billing-store failure: Redis unreachable, refusing, or past its deadline.</summary>
    public static bool IsBillingStoreFailure(Exception e) => e is RedisException or TimeoutException;

    /// <summary>The answer to a billing-store failure: full (Redis at <c>maxmemory</c>, OOM) or unavailable.</summary>
    public static IResult ForBillingStoreFailure(Exception e) => IsBillingStoreFull(e) ? BillingStoreFull : BillingUnavailable;

    /// <summary>Redis refuses writes at <c>maxmemory</c> with <c>noeviction</c>: an operator's problem, not a network one.</summary>
    public static bool IsBillingStoreFull(Exception e) => e is RedisServerException && e.Message.StartsWith("OOM", StringComparison.Ordinal);

    public static readonly IResult BillingStoreFull = new ErrorResult(StatusCodes.Status503ServiceUnavailable, "server_error", "billing_store_full",
        "The gateway's billing store is full, so nothing was done (and no request was sent upstream). Your gateway administrator has been alerted; please retry later.",
        null, RetryAfterSeconds: 30);

    /// <summary>503 with <c>Retry-After</c>: the SDKs retry it, after the store's deadline has let a stalled Redis recover.</summary>
    public static readonly IResult BillingUnavailable = new ErrorResult(StatusCodes.Status503ServiceUnavailable, "server_error", "billing_unavailable",
        "The gateway cannot reach its billing store right now, so nothing was done (and no request was sent upstream). Please retry shortly.",
        null, RetryAfterSeconds: 1);

    private sealed record ErrorResult(int Status, string Type, string Code, string Message, string? Param, int? RetryAfterSeconds = null) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) => WriteAsync(httpContext, Status, Type, Code, Message, Param, RetryAfterSeconds);
    }
}
