using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Errors;
using TokenGateway.Keys;
using TokenGateway.Pricing;
using TokenGateway.Telemetry;
using TokenGateway.Tokenizers;
using Yarp.ReverseProxy.Forwarder;

namespace TokenGateway.Metering;

/// <summary>
/// The hot path for <c>/v1/*</c>: authenticate, read the body once, reserve (one round trip), forward
/// with YARP while the usage is read from the bytes passing by, settle (one round trip).
/// </summary>
internal sealed partial class MeteredProxy(
    KeyStore keys, BillingStore billing, PricingCatalog pricing, UpstreamForwarder upstream,
    GatewayMetrics metrics, IOptions<GatewayOptions> options, ILogger<MeteredProxy> logger)
{
    private readonly GatewayOptions _options = options.Value;

    public async Task HandleAsync(HttpContext context)
    {
        using var telemetry = new RequestTelemetry(metrics);
        try
        {
            await HandleCoreAsync(context, telemetry);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            telemetry.RedisFailed();
            Log.BillingUnavailable(logger, e.GetType().Name);
            await OpenAIError.BillingUnavailable(context);
        }
    }

    private async Task HandleCoreAsync(HttpContext context, RequestTelemetry telemetry)
    {
        if (await keys.FindForRequestAsync(context.Request) is not { } presented)
        {
            telemetry.Outcome = RequestOutcome.InvalidKey;
            await OpenAIError.InvalidApiKey(context);
            return;
        }
        var (key, sha) = presented;
        telemetry.Account = key.AccountId;

        if (MeteredEndpoints.FromPath(context.Request.Path) is not MeteredEndpoint endpoint)
        {
            await ForwardUnmeteredAsync(context);
            return;
        }
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            telemetry.Outcome = RequestOutcome.InvalidRequest;
            await OpenAIError.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "invalid_request_error", "invalid_request", $"{context.Request.Path} accepts POST only.");
            return;
        }
        if (!RequestBody.IsJson(context.Request.ContentType))
        {
            telemetry.Outcome = RequestOutcome.InvalidRequest;
            await OpenAIError.InvalidRequest(context, "The request must have Content-Type: application/json.");
            return;
        }
        var body = await RequestBody.ReadAsync(context, _options.Metering.MaxRequestBodyBytes);
        if (body is null)
        {
            telemetry.Outcome = RequestOutcome.RequestTooLarge;
            await OpenAIError.WriteAsync(context, StatusCodes.Status413RequestEntityTooLarge, "invalid_request_error", "request_too_large",
                $"The request body is larger than the gateway's limit of {_options.Metering.MaxRequestBodyBytes} bytes.");
            return;
        }
        var (request, error, param) = RequestInspector.Inspect(endpoint, body);
        if (request is null)
        {
            telemetry.Outcome = RequestOutcome.InvalidRequest;
            await OpenAIError.InvalidRequest(context, error!, param);
            return;
        }
        if (pricing.Current.Find(request.Model) is not ModelPrice price)
        {
            telemetry.Outcome = RequestOutcome.ModelNotPriced;
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, "invalid_request_error", "model_not_priced",
                $"The model '{request.Model}' has no price in the gateway's pricing file, so it cannot be metered. Ask your gateway administrator to add it.", "model");
            return;
        }

        var inputTokens = InputTokenCounter.Count(request, body);
        // NOTE: the hold adds a margin for what the local count cannot see (tool-formatting tokens, image sizes).
        var holdInputTokens = inputTokens + inputTokens / 10 + 16;
        var maxOutput = endpoint == MeteredEndpoint.Embeddings ? 0
            // NOTE: legacy Completions default to 16 output tokens when max_tokens is absent.
            : request.MaxOutputTokens ?? (endpoint == MeteredEndpoint.Completions ? 16 : price.MaxOutputTokens ?? _options.Metering.DefaultMaxOutputTokens);
        telemetry.Model = request.Model;
        var requestId = "req_" + Guid.NewGuid().ToString("N");
        ReserveResult reservation;
        using (telemetry.Begin(RequestStage.Reserve))
        {
            reservation = await billing.ReserveAsync(new ReserveRequest(key.AccountId, key.KeyId, sha, requestId, request.Model,
                price.InputCostMicros(holdInputTokens), price.OutputPicos, maxOutput, request.Choices, request.MaxOutputTokens is not null));
        }
        switch (reservation.Status)
        {
            case ReserveStatus.InvalidKey:
                telemetry.Outcome = RequestOutcome.InvalidKey;
                await OpenAIError.InvalidApiKey(context);
                return;
            case ReserveStatus.ModelNotAllowed:
                telemetry.Outcome = RequestOutcome.ModelNotAllowed;
                await OpenAIError.WriteAsync(context, StatusCodes.Status403Forbidden, "invalid_request_error", "model_not_allowed",
                    $"This API key is not allowed to use the model '{request.Model}'.", "model");
                return;
            case ReserveStatus.InsufficientQuota:
                telemetry.Outcome = RequestOutcome.Refused(reservation.Limit);
                await OpenAIError.WriteAsync(context, StatusCodes.Status429TooManyRequests, "insufficient_quota", "insufficient_quota",
                    QuotaMessages.For(reservation, key.AccountId, _options.Billing.Url));
                return;
        }

        var clamp = reservation.GrantedOutputTokens < maxOutput ? reservation.GrantedOutputTokens : (int?)null;
        // Chat/Completions streams carry usage only when asked: the gateway always asks, and hides the answer if the client did not.
        var askUsage = request.Stream && endpoint is MeteredEndpoint.ChatCompletions or MeteredEndpoint.Completions && request.IncludeUsage != true;
        if (clamp is not null || askUsage)
        {
            body = RequestBodyRewriter.Rewrite(body, endpoint.OutputLimitField(), clamp, askUsage);
        }
        context.Request.Body = new MemoryStream(body, writable: false);
        context.Request.ContentLength = body.Length;
        context.Response.Headers["x-tokengateway-request-id"] = requestId;

        var json = new JsonUsageScanner();
        var events = new StreamEventReader(endpoint);
        var clientBody = context.Response.Body;
        // NOTE: a streamed request can still get a JSON answer (an error): the SSE reader then sees no event.
        MeteringStream meter = request.Stream
            ? new SseMeteringStream(clientBody, events, dropUsageOnlyChunk: askUsage)
            : new ObservingStream(clientBody, json.Feed);
        context.Response.Body = meter;
        ForwarderError forwardError;
        try
        {
            using var upstreamStage = telemetry.Begin(RequestStage.Upstream);
            forwardError = await upstream.SendAsync(context);
        }
        finally
        {
            context.Response.Body = clientBody;
        }
        if (request.Stream) telemetry.FirstByte(meter.FirstWriteTimestamp);

        var status = context.Response.StatusCode;
        telemetry.Outcome = context.RequestAborted.IsCancellationRequested ? RequestOutcome.ClientDisconnected
            : status >= 400 || forwardError != ForwarderError.None ? RequestOutcome.UpstreamError
            : RequestOutcome.Ok;
        long cost;
        TokenUsage usage;
        if ((json.Usage ?? events.Usage) is TokenUsage reported && status < 400)
        {
            usage = reported;
            cost = price.CostMicros(usage.Input, usage.Cached, usage.Output);
        }
        else if (status >= 400 || meter.BytesWritten == 0)
        {
            // Upstream error, or nothing came back: the hold is released, nothing is charged.
            usage = default;
            cost = 0;
            if (forwardError != ForwarderError.None) await WriteForwardErrorAsync(context, forwardError);
        }
        else
        {
            // Output reached the client but no usage did (stream cut, client gone): bill what was consumed,
            // input counted locally and output counted from the deltas that were streamed.
            var output = TiktokenTokenizer.CreateForModel(request.Model).CountTokens(events.OutputText);
            usage = new TokenUsage(inputTokens, 0, output);
            cost = price.CostMicros(inputTokens, 0, output);
            Log.UsageMissing(logger, requestId, request.Model, forwardError.ToString());
        }
        using (telemetry.Begin(RequestStage.Settle))
        {
            await SettleAsync(new SettleRequest(key.AccountId, key.KeyId, requestId, request.Model, cost, usage.Input, usage.Cached, usage.Output));
        }
        if (usage != default) telemetry.Usage(endpoint, usage, cost);
    }

    /// <summary>Settle is idempotent by request id, so a failed attempt is simply tried again.</summary>
    private async Task SettleAsync(SettleRequest settle)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await billing.SettleAsync(settle);
                return;
            }
            catch (Exception e) when ((e is RedisException or TimeoutException) && attempt < 4)
            {
                metrics.RedisError("settle");
                await Task.Delay(100 * attempt * attempt);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                metrics.RedisError("settle");
                // The hold's lease expires and frees the funds; the charge is logged for reconciliation.
                Log.SettleFailed(logger, settle.RequestId, settle.AccountId, settle.CostMicros, e.GetType().Name);
                return;
            }
        }
    }

    /// <summary>Free endpoints (the model list) pass through; anything else is not metered, so it is refused.</summary>
    private async Task ForwardUnmeteredAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (HttpMethods.IsGet(context.Request.Method) && (path == "/v1/models" || path.StartsWithSegments("/v1/models")))
        {
            var error = await upstream.SendAsync(context);
            if (error != ForwarderError.None) await WriteForwardErrorAsync(context, error);
            return;
        }
        await OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound, "invalid_request_error", "unknown_url",
            $"{context.Request.Method} {path} is not available through this gateway: it meters Chat Completions, Completions, Responses and Embeddings.");
    }

    private static Task WriteForwardErrorAsync(HttpContext context, ForwarderError error)
    {
        if (context.Response.HasStarted || context.RequestAborted.IsCancellationRequested) return Task.CompletedTask;
        var timeout = error == ForwarderError.RequestTimedOut;
        return OpenAIError.WriteAsync(context, timeout ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway, "server_error",
            timeout ? "upstream_timeout" : "upstream_unavailable",
            timeout ? "The upstream did not answer in time. Nothing was charged." : "The upstream could not be reached. Nothing was charged.");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 200, Level = LogLevel.Error, Message = "Billing store unreachable ({Error}); request refused with 503")]
        public static partial void BillingUnavailable(ILogger logger, string error);

        [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "No usage in the response of {RequestId} ({Model}, forwarder: {ForwarderError}); billed the locally counted tokens")]
        public static partial void UsageMissing(ILogger logger, string requestId, string model, string forwarderError);

        [LoggerMessage(EventId = 202, Level = LogLevel.Critical, Message = "Settle failed for {RequestId} of account {AccountId}: {CostMicros} micro-USD not recorded ({Error})")]
        public static partial void SettleFailed(ILogger logger, string requestId, string accountId, long costMicros, string error);
    }
}
