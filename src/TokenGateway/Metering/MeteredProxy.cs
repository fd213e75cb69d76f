using Microsoft.Extensions.Options;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Errors;
using TokenGateway.Keys;
using TokenGateway.Pricing;
using TokenGateway.RateLimits;
using TokenGateway.Telemetry;
using TokenGateway.Tokenizers;
using Yarp.ReverseProxy.Forwarder;

namespace TokenGateway.Metering;

/// <summary>
/// The hot path for <c>/v1/*</c>, in stages: <see cref="AdmitAsync"/> (key, endpoint, body, price — no Redis
/// but the key lookup), <see cref="ReserveAsync"/> (one round trip), <see cref="ForwardAsync"/> (YARP, the usage
/// read from the bytes passing by), <see cref="MeasureUsage"/>, and the settle (one round trip) by the
/// <see cref="HeldRequest"/> that owns the hold. A request refused on the way gets one <see cref="Refusal"/>.
/// </summary>
internal sealed partial class MeteredProxy(
    KeyStore keys, BillingStore billing, HoldServices holds, PricingCatalog pricing, UpstreamForwarder upstream,
    GatewayMetrics metrics, IOptions<GatewayOptions> options, ILogger<MeteredProxy> logger)
{
    private readonly GatewayOptions _options = options.Value;

    /// <summary>A request that passed every check that needs no Redis: its key, body, and the price that meters it.</summary>
    private sealed record Admitted(KeyRef Key, string KeySha, InspectedRequest Request, byte[] Body, PriceMatch Match);

    /// <summary>What the hold assumed: the input's upper bound (<see cref="InputTokenBound"/>), the output limit asked for, the tier.</summary>
    private sealed record Reservation(ReserveResult Result, long InputBound, int MaxOutput, ServiceTier Tier);

    /// <summary>What came back from the upstream, as the meters saw it.</summary>
    private sealed record Forwarded(ForwarderError Error, TokenUsage? Reported, MeteringStream Meter, StreamEventReader Events);

    public async Task HandleAsync(HttpContext context)
    {
        using var telemetry = new RequestTelemetry(metrics);
        try
        {
            await HandleCoreAsync(context, telemetry);
        }
        catch (Exception e) when (OpenAIError.IsBillingStoreFailure(e))
        {
            var full = OpenAIError.IsBillingStoreFull(e);
            telemetry.RedisFailed(full);
            if (full) Log.BillingStoreFull(logger, e);
            else Log.BillingUnavailable(logger, e);
            await OpenAIError.ForBillingStoreFailure(e).ExecuteAsync(context);
        }
    }

    private async Task HandleCoreAsync(HttpContext context, RequestTelemetry telemetry)
    {
        var (admitted, refusal) = await AdmitAsync(context, telemetry);
        if (admitted is null)
        {
            if (refusal is not null) await refusal.WriteAsync(context, telemetry);
            return;
        }
        telemetry.Model = admitted.Match.Label;
        var requestId = string.Create(36, Guid.NewGuid(), static (chars, id) =>
        {
            "req_".CopyTo(chars);
            id.TryFormat(chars[4..], out _, "N");
        });
        (var reservation, refusal) = await ReserveAsync(admitted, requestId, telemetry);
        if (reservation is null)
        {
            await refusal!.WriteAsync(context, telemetry);
            return;
        }
        await using var hold = new HeldRequest(holds, logger, admitted.Key.AccountId, admitted.Key.KeyId, requestId, admitted.Match.Label);
        var forwarded = await ForwardAsync(context, admitted, reservation, hold, telemetry);
        var usage = MeasureUsage(context, admitted, reservation, forwarded, telemetry, requestId);
        if (usage is null && forwarded.Error != ForwarderError.None) await WriteForwardErrorAsync(context, forwarded.Error);
        var charge = usage is { } used ? admitted.Match.Price.Cost(used) : Charge.None;
        if (usage is { } billed) CheckHold(admitted, reservation, billed, charge, requestId);
        // The answer is complete: the settle runs after it (see PendingSettles), so the client's last byte does not wait
        // for its round trip.
        hold.SettleAfterResponse(charge, usage ?? default, telemetry.Begin(RequestStage.Settle));
        if (usage is { } settled) telemetry.Usage(admitted.Request.Endpoint, settled, charge.Micros);
    }

    /// <summary>Key, endpoint, method, content type, body, JSON and price. Null with no refusal: handled (the model list).</summary>
    private async Task<(Admitted?, Refusal?)> AdmitAsync(HttpContext context, RequestTelemetry telemetry)
    {
        if (await keys.FindForRequestAsync(context.Request) is not (KeyRef key, string sha)) return (null, Refusal.InvalidKey);
        telemetry.Account = key.AccountId;
        if (MeteredEndpoints.FromPath(context.Request.Path) is not MeteredEndpoint endpoint)
            return (null, await ForwardUnmeteredAsync(context, key, sha));
        if (!HttpMethods.IsPost(context.Request.Method)) return (null, Refusal.MethodNotAllowed(context.Request.Path, "POST"));
        if (!RequestBody.IsJson(context.Request.ContentType)) return (null, Refusal.InvalidRequest("The request must have Content-Type: application/json."));
        var (body, status) = await RequestBody.ReadAsync(context, _options.Metering.MaxRequestBodyBytes);
        switch (status)
        {
            case BodyStatus.TooLarge: return (null, Refusal.TooLarge(_options.Metering.MaxRequestBodyBytes));
            case BodyStatus.Malformed: return (null, Refusal.InvalidRequest("The request body could not be read (malformed framing)."));
            case BodyStatus.ClientGone: return (null, Refusal.ClientGone);
        }
        var (request, error, param) = RequestInspector.Inspect(endpoint, body);
        if (request is null) return (null, Refusal.InvalidRequest(error!, param));
        // NOTE: an embedding model has no output price, so it is metered on /v1/embeddings only.
        if (pricing.Current.Find(request.Model) is not { } match || (match.Price.IsEmbedding && endpoint != MeteredEndpoint.Embeddings))
            return (null, Refusal.ModelNotPriced(request.Model, context.Request.Path));
        return (new Admitted(key, sha, request, body!, match), null);
    }

    /// <summary>Places a hold for the request's worst case (<see cref="HoldRules"/>), or says why it cannot.</summary>
    private async Task<(Reservation?, Refusal?)> ReserveAsync(Admitted admitted, string requestId, RequestTelemetry telemetry)
    {
        var (key, sha, request, body, (price, _)) = admitted;
        // NOTE: no tokenizer here: the hold needs a bound, and bytes give one (the local count decides only what a
        // request cut before its usage pays, see ConsumedInput).
        var inputBound = InputTokenBound.Count(request.Model, body);
        var maxOutput = request.Endpoint switch
        {
            MeteredEndpoint.Embeddings => 0,
            _ when request.MaxOutputTokens is int limit => limit,
            MeteredEndpoint.Completions => HoldRules.LegacyCompletionsDefaultOutput,
            _ => price.MaxOutputTokens ?? _options.Metering.DefaultMaxOutputTokens,
        };
        var tier = price.WorstTier(request.ServiceTier);
        var toolCalls = request.HasPricedTools ? request.MaxToolCalls ?? _options.Metering.MaxToolCallsHeld : 0;
        var (fixedMicros, outputPicos) = price.HoldPrices(tier, inputBound, toolCalls);
        ReserveResult result;
        using (telemetry.Begin(RequestStage.Reserve))
        {
            try
            {
                result = await billing.ReserveAsync(new ReserveRequest(key.AccountId, key.KeyId, sha, requestId, request.Model,
                    fixedMicros, outputPicos, maxOutput, request.Choices, request.MaxOutputTokens is not null, TokensPerMinuteEstimate(inputBound)));
            }
            catch (Exception e) when (OpenAIError.IsBillingStoreFailure(e))
            {
                // NOTE: a reserve that timed out may still run once a stalled Redis answers again, and place a hold nobody
                // settles: release it then. Sent after it on the same connection, the release runs after it. A reserve Redis
                // refused with an error (TRYAGAIN, OOM, a script error before its writes) placed nothing.
                if (e is not StackExchange.Redis.RedisServerException) HeldRequest.ReleaseInBackground(holds, logger, key.AccountId, key.KeyId, requestId);
                throw;
            }
        }
        return result.Status switch
        {
            ReserveStatus.Reserved => (new Reservation(result, inputBound, maxOutput, tier), null),
            ReserveStatus.InvalidKey => (null, Refusal.InvalidKey),
            ReserveStatus.ModelNotAllowed => (null, Refusal.ModelNotAllowed(request.Model)),
            ReserveStatus.RateLimited => (null, RateLimited(result, admitted)),
            _ => (null, Refusal.InsufficientQuota(result, key.AccountId, _options.Billing.Url)),
        };
    }

    /// <summary>
    /// The input's share of what a request charges the tokens-per-minute limits at admission: an estimate, as OpenAI's is
    /// (about 4 bytes of text a token), not the hold's bound (one token a byte), which would refuse a large prompt that
    /// fits. The settle corrects the limits to the tokens used, so an estimate off either way is off only until then.
    /// </summary>
    private static long TokensPerMinuteEstimate(long inputBound) => (inputBound + 3) / 4;

    private Refusal RateLimited(ReserveResult result, Admitted admitted)
    {
        var limit = result.RateLimited!;
        metrics.RateLimited(admitted.Key.AccountId, limit.Label, limit.ScopeLabel);
        return Refusal.RateLimited(limit, limit.Message(admitted.Request.Model, admitted.Key.AccountId, result.ProjectId ?? "", admitted.Key.KeyId));
    }

    /// <summary>Forwards with the output limit the hold pays for, the response read by a meter as it streams to the client.</summary>
    private async Task<Forwarded> ForwardAsync(HttpContext context, Admitted admitted, Reservation reservation, HeldRequest hold, RequestTelemetry telemetry)
    {
        var request = admitted.Request;
        var granted = reservation.Result.GrantedOutputTokens;
        var clamp = granted < reservation.MaxOutput ? granted : (int?)null;
        // Chat/Completions streams carry usage only when asked: the gateway always asks, and hides the answer if the client did not.
        var askUsage = request.Stream && request.Endpoint is MeteredEndpoint.ChatCompletions or MeteredEndpoint.Completions && request.IncludeUsage != true;
        var body = clamp is not null || askUsage ? RequestBodyRewriter.Rewrite(admitted.Body, request.Endpoint.OutputLimitField(), clamp, askUsage) : admitted.Body;
        context.Request.Body = new MemoryStream(body, writable: false);
        context.Request.ContentLength = body.Length;
        context.Response.Headers["x-tokengateway-request-id"] = hold.RequestId;
        if (reservation.Result.RateLimits is { } limits)
        {
            // NOTE: set as the response starts, after YARP copied the upstream's headers: the gateway's limits are the
            // client's, and replace the upstream's x-ratelimit-* (those of the provider account the whole gateway shares).
            context.Response.OnStarting(static state =>
            {
                var (limits, response) = ((RateLimitHeaders, HttpResponse))state;
                limits.Apply(response.Headers);
                return Task.CompletedTask;
            }, (limits, context.Response));
        }

        var json = new JsonUsageScanner();
        var events = new StreamEventReader(request.Endpoint);
        var clientBody = context.Response.Body;
        // NOTE: a streamed request can still get a JSON answer (an error): the SSE reader then sees no event.
        MeteringStream meter = request.Stream
            ? new SseMeteringStream(clientBody, events, dropUsageOnlyChunk: askUsage)
            : new ObservingStream(clientBody, json.Feed);
        context.Response.Body = meter;
        // NOTE: from here the upstream may bill the request: whatever happens next, its input is charged at least.
        var consumedInput = new Lazy<TokenUsage>(() => ConsumedInput(admitted, reservation));
        hold.Fallback = () => (admitted.Match.Price.Cost(consumedInput.Value), consumedInput.Value);
        // The heartbeat's record (charged if this replica dies): the input, and what the client received of the output.
        hold.Consumed = () =>
        {
            var text = request.Stream ? events.OutputText : "";
            var output = text.Length == 0 ? 0 : TiktokenTokenizer.CreateForModel(request.Model).CountTokens(text);
            var used = consumedInput.Value with { Output = Math.Min(output, (long)granted * request.Choices) };
            return (admitted.Match.Price.Cost(used), used);
        };
        ForwarderError error;
        try
        {
            using var upstreamStage = telemetry.Begin(RequestStage.Upstream);
            error = await upstream.SendAsync(context);
        }
        finally
        {
            context.Response.Body = clientBody;
        }
        if (request.Stream) telemetry.FirstByte(meter.FirstWriteTimestamp);
        return new Forwarded(error, json.Usage ?? events.Usage, meter, events);
    }

    /// <summary>
    /// What to bill: the reported usage; nothing when the upstream failed or sent nothing back; otherwise (stream cut,
    /// client gone, even before the first byte) what was consumed: the input counted locally, the output streamed.
    /// </summary>
    private TokenUsage? MeasureUsage(HttpContext context, Admitted admitted, Reservation reservation, Forwarded forwarded, RequestTelemetry telemetry, string requestId)
    {
        var status = context.Response.StatusCode;
        var clientGone = context.RequestAborted.IsCancellationRequested;
        telemetry.Outcome = clientGone ? RequestOutcome.ClientDisconnected
            : status >= 400 || forwarded.Error != ForwarderError.None ? RequestOutcome.UpstreamError
            : RequestOutcome.Ok;
        if (forwarded.Reported is { } reported && status < 400) return reported;
        if (!clientGone && (status >= 400 || forwarded.Meter.BytesWritten == 0)) return null;
        var text = forwarded.Events.OutputText;
        var output = text.Length == 0 ? 0 : TiktokenTokenizer.CreateForModel(admitted.Request.Model).CountTokens(text);
        Log.UsageMissing(logger, requestId, admitted.Match.Label, forwarded.Error.ToString());
        // NOTE: the upstream cannot have written more than the limit it was sent, whatever the deltas re-tokenize to.
        var limit = (long)reservation.Result.GrantedOutputTokens * admitted.Request.Choices;
        return ConsumedInput(admitted, reservation) with { Output = Math.Min(output, limit) };
    }

    /// <summary>
    /// The input of a request that ended without usage: counted locally with the model's tokenizer (the one place it
    /// decides something), never more than the hold's bound (an image the count assumes large may be a low-detail one).
    /// </summary>
    private static TokenUsage ConsumedInput(Admitted admitted, Reservation reservation) =>
        new(Math.Min(InputTokenCounter.Count(admitted.Request, admitted.Body), reservation.InputBound), 0, 0) { ServiceTier = reservation.Tier.Name() };

    /// <summary>
    /// A reported usage beyond what the hold assumed (more input than its bound, or a cost above the hold) is still
    /// charged in full, but it means the hold was not the upper bound it must be: counted and logged as an error.
    /// </summary>
    private void CheckHold(Admitted admitted, Reservation reservation, TokenUsage reported, Charge charge, string requestId)
    {
        if (reported.Input <= reservation.InputBound && charge.Micros <= reservation.Result.HoldMicros) return;
        metrics.HoldOverrun(admitted.Key.AccountId, admitted.Match.Label);
        Log.HoldOverrun(logger, requestId, admitted.Key.AccountId, admitted.Match.Label, reported.Input, reservation.InputBound, charge.Micros, reservation.Result.HoldMicros);
    }

    /// <summary>The model list passes through for a usable key; anything else that is not metered is refused.</summary>
    private async Task<Refusal?> ForwardUnmeteredAsync(HttpContext context, KeyRef key, string sha)
    {
        var path = context.Request.Path;
        if (path != "/v1/models" && !path.StartsWithSegments("/v1/models")) return Refusal.UnknownUrl(context.Request);
        if (!HttpMethods.IsGet(context.Request.Method)) return Refusal.MethodNotAllowed(path, "GET");
        // NOTE: the upstream sees the provider key, so a revoked or expired gateway key must not get this far either.
        if (!await keys.IsUsableAsync(key, sha)) return Refusal.InvalidKey;
        var error = await upstream.SendAsync(context);
        if (error != ForwarderError.None) await WriteForwardErrorAsync(context, error);
        return null;
    }

    private static Task WriteForwardErrorAsync(HttpContext context, ForwarderError error)
    {
        var timeout = error == ForwarderError.RequestTimedOut;
        return OpenAIError.WriteAsync(context, timeout ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway, "server_error",
            timeout ? "upstream_timeout" : "upstream_unavailable",
            timeout ? "The upstream did not answer in time. Nothing was charged." : "The upstream could not be reached. Nothing was charged.");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 200, Level = LogLevel.Error, Message = "Billing store unreachable; request refused with 503")]
        public static partial void BillingUnavailable(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 205, Level = LogLevel.Critical, Message = "Billing store full (Redis at maxmemory); request refused with 503 billing_store_full")]
        public static partial void BillingStoreFull(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "No usage in the response of {RequestId} ({Model}, forwarder: {ForwarderError}); billed the locally counted tokens")]
        public static partial void UsageMissing(ILogger logger, string requestId, string model, string forwarderError);

        [LoggerMessage(EventId = 204, Level = LogLevel.Error, Message = "Hold overrun by {RequestId} of account {AccountId} ({Model}): {InputTokens} input tokens reported for a bound of {InputBound}, charged {CostMicros} micro-USD for a hold of {HoldMicros}")]
        public static partial void HoldOverrun(ILogger logger, string requestId, string accountId, string model, long inputTokens, long inputBound, long costMicros, long holdMicros);
    }
}
