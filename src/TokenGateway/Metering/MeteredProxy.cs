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
/// The hot path for <c>/v1/*</c>, in stages: authenticate, read the request once (<see cref="ReadAsync"/>),
/// reserve its worst case (<see cref="ReserveAsync"/>, one round trip), forward with YARP while the usage
/// is read from the bytes passing by, and settle (<see cref="ForwardAndSettleAsync"/>, one round trip).
/// </summary>
internal sealed partial class MeteredProxy(
    KeyStore keys, BillingStore billing, PricingCatalog pricing, UpstreamForwarder upstream,
    GatewayMetrics metrics, IOptions<GatewayOptions> options, ILogger<MeteredProxy> logger)
{
    private readonly GatewayOptions _options = options.Value;

    /// <summary>A request that passed every check that needs no Redis: its body, and the price that meters it.</summary>
    private sealed record ReadRequest(InspectedRequest Request, byte[] Body, PriceMatch Match);

    /// <summary>What the hold assumed: the input counted locally, the output limit, the tier.</summary>
    private sealed record Reservation(ReserveResult Result, long InputTokens, int MaxOutput, ServiceTier Tier);

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
            await ForwardUnmeteredAsync(context, key, sha);
            return;
        }
        if (await ReadAsync(context, endpoint, telemetry) is not { } read) return;
        telemetry.Model = read.Match.Label;
        var requestId = "req_" + Guid.NewGuid().ToString("N");
        if (await ReserveAsync(context, read, key, sha, requestId, telemetry) is not { } reservation) return;

        await using var hold = new HeldRequest(billing, metrics, logger, key.AccountId, key.KeyId, requestId, read.Match.Label);
        await ForwardAndSettleAsync(context, read, reservation, hold, telemetry);
    }

    /// <summary>Method, content type, body, JSON and price: a request that fails here is answered 4xx and changes nothing.</summary>
    private async Task<ReadRequest?> ReadAsync(HttpContext context, MeteredEndpoint endpoint, RequestTelemetry telemetry)
    {
        Task Refuse(string outcome, Task write)
        {
            telemetry.Outcome = outcome;
            return write;
        }
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.Headers.Allow = "POST";
            await Refuse(RequestOutcome.InvalidRequest, OpenAIError.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "invalid_request_error", "method_not_allowed",
                $"{context.Request.Path} accepts POST only."));
            return null;
        }
        if (!RequestBody.IsJson(context.Request.ContentType))
        {
            await Refuse(RequestOutcome.InvalidRequest, OpenAIError.InvalidRequest(context, "The request must have Content-Type: application/json."));
            return null;
        }
        var (body, status) = await RequestBody.ReadAsync(context, _options.Metering.MaxRequestBodyBytes);
        switch (status)
        {
            case BodyStatus.TooLarge:
                await Refuse(RequestOutcome.RequestTooLarge, OpenAIError.WriteAsync(context, StatusCodes.Status413RequestEntityTooLarge, "invalid_request_error", "request_too_large",
                    $"The request body is larger than the gateway's limit of {_options.Metering.MaxRequestBodyBytes} bytes."));
                return null;
            case BodyStatus.Malformed:
                await Refuse(RequestOutcome.InvalidRequest, OpenAIError.InvalidRequest(context, "The request body could not be read (malformed framing)."));
                return null;
            case BodyStatus.ClientGone:
                telemetry.Outcome = RequestOutcome.ClientDisconnected;
                return null;
        }
        var (request, error, param) = RequestInspector.Inspect(endpoint, body);
        if (request is null)
        {
            await Refuse(RequestOutcome.InvalidRequest, OpenAIError.InvalidRequest(context, error!, param));
            return null;
        }
        // NOTE: an embedding model has no output price, so it is metered on /v1/embeddings only.
        if (pricing.Current.Find(request.Model) is not { } match || (match.Price.IsEmbedding && endpoint != MeteredEndpoint.Embeddings))
        {
            await Refuse(RequestOutcome.ModelNotPriced, OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, "invalid_request_error", "model_not_priced",
                $"The model '{OpenAIError.Quote(request.Model)}' has no price for {context.Request.Path} in the gateway's pricing file, so it cannot be metered. Ask your gateway administrator to add it.", "model"));
            return null;
        }
        return new ReadRequest(request, body!, match);
    }

    /// <summary>Places a hold for the request's worst case, or answers why it cannot (401, 403, 429).</summary>
    private async Task<Reservation?> ReserveAsync(HttpContext context, ReadRequest read, KeyRef key, string sha, string requestId, RequestTelemetry telemetry)
    {
        var (request, body, (price, _)) = read;
        var endpoint = request.Endpoint;
        var inputTokens = InputTokenCounter.Count(request, body);
        // NOTE: the hold adds a margin for what the local count cannot see (tool-formatting tokens, image sizes).
        var holdInputTokens = inputTokens + inputTokens / 10 + 16;
        var maxOutput = endpoint == MeteredEndpoint.Embeddings ? 0
            // NOTE: legacy Completions default to 16 output tokens when max_tokens is absent.
            : request.MaxOutputTokens ?? (endpoint == MeteredEndpoint.Completions ? 16 : price.MaxOutputTokens ?? _options.Metering.DefaultMaxOutputTokens);
        var tier = price.WorstTier(request.ServiceTier);
        var toolCalls = request.HasPricedTools ? request.MaxToolCalls ?? _options.Metering.MaxToolCallsHeld : 0;
        var (fixedMicros, outputPicos) = price.HoldPrices(tier, holdInputTokens, toolCalls);
        ReserveResult result;
        using (telemetry.Begin(RequestStage.Reserve))
        {
            result = await billing.ReserveAsync(new ReserveRequest(key.AccountId, key.KeyId, sha, requestId, request.Model,
                fixedMicros, outputPicos, maxOutput, request.Choices, request.MaxOutputTokens is not null));
        }
        switch (result.Status)
        {
            case ReserveStatus.InvalidKey:
                telemetry.Outcome = RequestOutcome.InvalidKey;
                await OpenAIError.InvalidApiKey(context);
                return null;
            case ReserveStatus.ModelNotAllowed:
                telemetry.Outcome = RequestOutcome.ModelNotAllowed;
                await OpenAIError.WriteAsync(context, StatusCodes.Status403Forbidden, "invalid_request_error", "model_not_allowed",
                    $"This API key is not allowed to use the model '{OpenAIError.Quote(request.Model)}'.", "model");
                return null;
            case ReserveStatus.InsufficientQuota:
                telemetry.Outcome = RequestOutcome.Refused(result.Limit);
                await OpenAIError.WriteAsync(context, StatusCodes.Status429TooManyRequests, "insufficient_quota", "insufficient_quota",
                    QuotaMessages.For(result, key.AccountId, _options.Billing.Url));
                return null;
        }
        return new Reservation(result, inputTokens, maxOutput, tier);
    }

    /// <summary>Forwards with the output limit the hold pays for, meters the response as it streams, and settles.</summary>
    private async Task ForwardAndSettleAsync(HttpContext context, ReadRequest read, Reservation reservation, HeldRequest hold, RequestTelemetry telemetry)
    {
        var (request, body, (price, label)) = read;
        var endpoint = request.Endpoint;
        var clamp = reservation.Result.GrantedOutputTokens < reservation.MaxOutput ? reservation.Result.GrantedOutputTokens : (int?)null;
        // Chat/Completions streams carry usage only when asked: the gateway always asks, and hides the answer if the client did not.
        var askUsage = request.Stream && endpoint is MeteredEndpoint.ChatCompletions or MeteredEndpoint.Completions && request.IncludeUsage != true;
        if (clamp is not null || askUsage)
        {
            body = RequestBodyRewriter.Rewrite(body, endpoint.OutputLimitField(), clamp, askUsage);
        }
        context.Request.Body = new MemoryStream(body, writable: false);
        context.Request.ContentLength = body.Length;
        context.Response.Headers["x-tokengateway-request-id"] = hold.RequestId;

        var json = new JsonUsageScanner();
        var events = new StreamEventReader(endpoint);
        var clientBody = context.Response.Body;
        // NOTE: a streamed request can still get a JSON answer (an error): the SSE reader then sees no event.
        MeteringStream meter = request.Stream
            ? new SseMeteringStream(clientBody, events, dropUsageOnlyChunk: askUsage)
            : new ObservingStream(clientBody, json.Feed);
        context.Response.Body = meter;
        // NOTE: from here the upstream may bill the request: whatever happens next, its input is charged at least.
        var consumedInput = new TokenUsage(reservation.InputTokens, 0, 0) { ServiceTier = reservation.Tier.Name() };
        hold.Fallback = (price.Cost(consumedInput), consumedInput);
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
        var clientGone = context.RequestAborted.IsCancellationRequested;
        telemetry.Outcome = clientGone ? RequestOutcome.ClientDisconnected
            : status >= 400 || forwardError != ForwarderError.None ? RequestOutcome.UpstreamError
            : RequestOutcome.Ok;
        TokenUsage usage;
        if ((json.Usage ?? events.Usage) is TokenUsage reported && status < 400)
        {
            usage = reported;
        }
        else if (!clientGone && (status >= 400 || meter.BytesWritten == 0))
        {
            // Upstream error, or nothing came back: the hold is released, nothing is charged.
            usage = default;
            if (forwardError != ForwarderError.None) await WriteForwardErrorAsync(context, forwardError);
        }
        else
        {
            // Forwarded, but no usage came back (stream cut, client gone, even before the first byte): bill what was
            // consumed, the input counted locally and the output counted from the deltas that were streamed.
            var output = events.OutputText.Length == 0 ? 0 : TiktokenTokenizer.CreateForModel(request.Model).CountTokens(events.OutputText);
            usage = consumedInput with { Output = output };
            Log.UsageMissing(logger, hold.RequestId, label, forwardError.ToString());
        }
        var charge = usage == default ? Charge.None : price.Cost(usage);
        using (telemetry.Begin(RequestStage.Settle))
        {
            await hold.SettleAsync(charge, usage);
        }
        if (usage != default) telemetry.Usage(endpoint, usage, charge.Micros);
    }

    /// <summary>The model list passes through for a usable key; anything else that is not metered is refused.</summary>
    private async Task ForwardUnmeteredAsync(HttpContext context, KeyRef key, string sha)
    {
        var path = context.Request.Path;
        if (path != "/v1/models" && !path.StartsWithSegments("/v1/models"))
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound, "invalid_request_error", "unknown_url",
                $"{context.Request.Method} {OpenAIError.Quote(path.ToString())} is not available through this gateway: it meters Chat Completions, Completions, Responses and Embeddings.");
            return;
        }
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            context.Response.Headers.Allow = "GET";
            await OpenAIError.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "invalid_request_error", "method_not_allowed", $"{path} accepts GET only.");
            return;
        }
        // NOTE: the upstream sees the provider key, so a revoked or expired gateway key must not get this far either.
        if (!await keys.IsUsableAsync(key, sha))
        {
            await OpenAIError.InvalidApiKey(context);
            return;
        }
        var error = await upstream.SendAsync(context);
        if (error != ForwarderError.None) await WriteForwardErrorAsync(context, error);
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
    }
}
