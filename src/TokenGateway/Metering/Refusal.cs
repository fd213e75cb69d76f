using TokenGateway.Billing;
using TokenGateway.Errors;
using TokenGateway.RateLimits;
using TokenGateway.Telemetry;

namespace TokenGateway.Metering;

/// <summary>
/// A request the gateway answers itself instead of forwarding: the OpenAI-shaped error and the outcome it is
/// counted under (null: not a metered request, not counted), written in one place (<see cref="WriteAsync"/>).
/// Nothing refused is reserved or forwarded.
/// </summary>
internal sealed record Refusal(int Status, string Type, string Code, string Message, string? Outcome, string? Param = null, string? Allow = null,
    RateLimitRefusal? RateLimit = null)
{
    public static readonly Refusal InvalidKey = new(StatusCodes.Status401Unauthorized, "invalid_request_error", "invalid_api_key",
        OpenAIError.InvalidApiKeyMessage, RequestOutcome.InvalidKey);

    /// <summary>The client left while its body was read: nothing to answer.</summary>
    public static readonly Refusal ClientGone = new(499, "", "", "", RequestOutcome.ClientDisconnected);

    public static Refusal InvalidRequest(string message, string? param = null) =>
        new(StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request", message, RequestOutcome.InvalidRequest, param);

    public static Refusal MethodNotAllowed(PathString path, string allow) =>
        new(StatusCodes.Status405MethodNotAllowed, "invalid_request_error", "method_not_allowed", $"{path} accepts {allow} only.", RequestOutcome.InvalidRequest, Allow: allow);

    public static Refusal UnknownUrl(HttpRequest request) =>
        new(StatusCodes.Status404NotFound, "invalid_request_error", "unknown_url",
            $"{request.Method} {OpenAIError.Quote(request.Path.ToString())} is not available through this gateway: it meters Chat Completions, Completions, Responses and Embeddings.",
            Outcome: null);

    public static Refusal TooLarge(long limit) =>
        new(StatusCodes.Status413RequestEntityTooLarge, "invalid_request_error", "request_too_large",
            $"The request body is larger than the gateway's limit of {limit} bytes.", RequestOutcome.RequestTooLarge);

    public static Refusal ModelNotPriced(string model, PathString path) =>
        new(StatusCodes.Status400BadRequest, "invalid_request_error", "model_not_priced",
            $"The model '{OpenAIError.Quote(model)}' has no price for {path} in the gateway's pricing file, so it cannot be metered. Ask your gateway administrator to add it.",
            RequestOutcome.ModelNotPriced, "model");

    public static Refusal ModelNotAllowed(string model) =>
        new(StatusCodes.Status403Forbidden, "invalid_request_error", "model_not_allowed",
            $"This API key is not allowed to use the model '{OpenAIError.Quote(model)}'.", RequestOutcome.ModelNotAllowed, "model");

    /// <summary>429 <c>insufficient_quota</c> with OpenAI's code for the limit that tripped (<see cref="QuotaMessages.Code"/>).</summary>
    public static Refusal InsufficientQuota(ReserveResult reservation, string accountId, string billingUrl) =>
        new(StatusCodes.Status429TooManyRequests, "insufficient_quota", QuotaMessages.Code(reservation.Limit),
            QuotaMessages.For(reservation, accountId, billingUrl), RequestOutcome.Refused(reservation.Limit));

    /// <summary>429 <c>rate_limit_exceeded</c> (type <c>requests</c> or <c>tokens</c>): retryable, with Retry-After and the x-ratelimit headers.</summary>
    public static Refusal RateLimited(RateLimitRefusal limit, string message) =>
        new(StatusCodes.Status429TooManyRequests, limit.Type, "rate_limit_exceeded", message, RequestOutcome.RateLimited, RateLimit: limit);

    public Task WriteAsync(HttpContext context, RequestTelemetry telemetry)
    {
        telemetry.Outcome = Outcome;
        if (this == ClientGone) return Task.CompletedTask;
        if (Allow is not null) context.Response.Headers.Allow = Allow;
        return OpenAIError.WriteAsync(context, Status, Type, Code, Message, Param, headers: RateLimit is null ? null : RateLimit.Apply);
    }
}
