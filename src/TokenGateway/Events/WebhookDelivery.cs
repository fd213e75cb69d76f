using System.Net.Http.Headers;
using Microsoft.Extensions.Options;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Errors;
using TokenGateway.Telemetry;

namespace TokenGateway.Events;

/// <summary>
/// Delivers outbox events in the background: notifications to <c>Webhooks:Url</c>, and auto-recharge
/// requests to <c>Webhooks:FundingUrl</c>, whose answer grants the recharge (2xx) or refuses it (4xx).
/// Failures are retried with exponential backoff; the event stays in Redis meanwhile, so a restart
/// loses nothing (the sweep finds it again).
/// </summary>
internal sealed partial class WebhookDelivery(
    EventQueue queue, EventOutbox outbox, GatewayMetrics metrics, TimeProvider clock, IHttpClientFactory http, IOptions<GatewayOptions> options,
    ILogger<WebhookDelivery> logger)
    : BackgroundService
{
    /// <summary>The named client of the webhooks (timeout from <c>Billing:Webhooks:TimeoutSeconds</c>, see GatewayApplication).</summary>
    // NOTE: no resilience handler on it: a failed attempt is retried through the outbox in Redis, with backoff
    // and a lease, so retries survive a restart and never run on two replicas at once; an in-memory retry would not.
    public const string HttpClientName = "webhooks";

    private readonly WebhookOptions _hooks = options.Value.Billing.Webhooks;
    private readonly SemaphoreSlim _parallel = new(16);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var e in queue.Reader.ReadAllAsync(stoppingToken))
        {
            await _parallel.WaitAsync(stoppingToken);
            Observe(async () =>
            {
                try { await DeliverAsync(e, stoppingToken); }
                finally { _parallel.Release(); }
            }, e);
        }
    }

    /// <summary>Runs a delivery step in the background; an unexpected failure is logged, never lost unobserved.</summary>
    private void Observe(Func<Task> step, EventRef e) => _ = Task.Run(async () =>
    {
        try
        {
            await step();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The event is still in the outbox: the sweep delivers it later.
            Log.DeliveryFailed(logger, ex, e.AccountId, e.EventId);
        }
    });

    private async Task DeliverAsync(EventRef e, CancellationToken stop)
    {
        try
        {
            if (await outbox.ClaimAsync(e) is not { } claimed) return;
            if (claimed.Json is null)
            {
                // NOTE: timers and the wall clock disagree by a few ms, so a retry can wake just before it is due.
                Observe(() => RetryLaterAsync(e, claimed.DueAt - clock.GetUtcNow() + TimeSpan.FromMilliseconds(20), stop), e);
                return;
            }
            var (type, body) = WebhookBody.Build(e, claimed.Json, claimed.Attempt);
            if (claimed.Attempt == 1) Raised(e, type, claimed.Json);

            // NOTE: a team admin's credit request goes to the funding webhook too, and is granted or refused the same way.
            var funding = type is "auto_recharge.requested" or "credit.requested";
            var url = funding ? _hooks.FundingUrl : _hooks.Url;
            if (url.Length == 0)
            {
                await FinishAsync(e, funding ? DeliveryOutcome.Refused : DeliveryOutcome.Delivered, reason: "no funding webhook is configured");
                return;
            }

            var status = await PostAsync(url, type, e, body, stop);
            var delay = TimeSpan.FromMilliseconds(Math.Min(_hooks.RetryBaseMilliseconds * Math.Pow(2, claimed.Attempt - 1), 600_000));
            var (outcome, reason) = status switch
            {
                >= 200 and < 300 => (funding ? DeliveryOutcome.Approved : DeliveryOutcome.Delivered, ""),
                // NOTE: a 4xx is the billing system's answer (no funds, not allowed): final. 408/429 are only "not now".
                >= 400 and < 500 and not 408 and not 429 when funding => (DeliveryOutcome.Refused, $"the funding webhook refused with HTTP {status}"),
                _ when claimed.Attempt < _hooks.MaxAttempts => (DeliveryOutcome.Retry, ""),
                _ => (funding ? DeliveryOutcome.Refused : DeliveryOutcome.Delivered,
                    $"the webhook failed {claimed.Attempt} times (last: {(status is int s ? "HTTP " + s : "no answer")})"),
            };
            if (outcome != DeliveryOutcome.Retry && reason.Length > 0) Log.GaveUp(logger, type, e.AccountId, e.EventId, reason);
            await FinishAsync(e, outcome, clock.GetUtcNow() + delay, reason);
            if (outcome == DeliveryOutcome.Retry) Observe(() => RetryLaterAsync(e, delay, stop), e);
        }
        catch (Exception ex) when (OpenAIError.IsBillingStoreFailure(ex))
        {
            // The event is still in the outbox: the sweep delivers it once Redis answers again.
            Log.OutboxUnavailable(logger, ex, e.AccountId, e.EventId);
        }
    }

    private async Task FinishAsync(EventRef e, DeliveryOutcome outcome, DateTimeOffset retryAt = default, string reason = "")
    {
        foreach (var raised in await outbox.FinishAsync(e, outcome, retryAt, reason)) queue.Enqueue(e.AccountId, raised);
    }

    /// <returns>The receiver's status code, or null when it could not be reached or did not answer in time.</returns>
    private async Task<int?> PostAsync(string url, string type, EventRef e, byte[] body, CancellationToken stop)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add(WebhookSignature.Header, WebhookSignature.Create(_hooks.Secret, clock.GetUtcNow(), body));
        request.Headers.Add("TokenGateway-Event-Id", $"{e.AccountId}/{e.EventId}");
        request.Headers.Add("TokenGateway-Event-Type", type);
        try
        {
            using var response = await http.CreateClient(HttpClientName).SendAsync(request, stop);
            return (int)response.StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !stop.IsCancellationRequested)
        {
            return null;
        }
    }

    private async Task RetryLaterAsync(EventRef e, TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay > TimeSpan.Zero ? delay : TimeSpan.Zero, clock, stop);
            queue.Enqueue(e.AccountId, e.EventId);
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the sweep of whichever replica runs next retries it.
        }
    }

    /// <summary>Once per event (its first attempt): the structured log line and the metric.</summary>
    private void Raised(EventRef e, string type, string json)
    {
        metrics.BillingNotification(e.AccountId, type);
        if (type == "soft_limit.crossed") Log.SoftLimitCrossed(logger, e.AccountId, json);
        else Log.BillingEvent(logger, type, e.AccountId, json);
    }

    public override void Dispose()
    {
        _parallel.Dispose();
        base.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "Soft limit crossed by account {AccountId}: {Event}")]
        public static partial void SoftLimitCrossed(ILogger logger, string accountId, string @event);

        [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Billing event {Type} for account {AccountId}: {Event}")]
        public static partial void BillingEvent(ILogger logger, string type, string accountId, string @event);

        [LoggerMessage(EventId = 302, Level = LogLevel.Error, Message = "Webhook {Type} for account {AccountId} ({EventId}) given up: {Reason}")]
        public static partial void GaveUp(ILogger logger, string type, string accountId, string eventId, string reason);

        [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "Outbox of account {AccountId} unreachable for event {EventId}; the sweep retries it")]
        public static partial void OutboxUnavailable(ILogger logger, Exception exception, string accountId, string eventId);

        [LoggerMessage(EventId = 304, Level = LogLevel.Error, Message = "Delivery of event {EventId} of account {AccountId} failed unexpectedly; the sweep retries it")]
        public static partial void DeliveryFailed(ILogger logger, Exception exception, string accountId, string eventId);
    }
}
