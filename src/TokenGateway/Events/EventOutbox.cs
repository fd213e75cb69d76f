using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Billing.Scripts;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.Redis;

namespace TokenGateway.Events;

/// <summary>An event read from an account's outbox for one delivery attempt.</summary>
/// <param name="Json">As the script wrote it: <c>{"type","ts","data":{…}}</c>; null when the event is not due yet.</param>
/// <param name="DueAt">When an event that is not due yet will be (a retry's time, or the end of another replica's lease).</param>
internal sealed record ClaimedEvent(EventRef Ref, string? Json, int Attempt, DateTimeOffset DueAt = default);

internal enum DeliveryOutcome { Retry, Delivered, Approved, Refused }

/// <summary>
/// The Redis side of webhook events. Scripts raise them inside the change that causes them (settle);
/// these scripts claim one for an attempt, record the outcome, and find the ones due.
/// </summary>
internal sealed class EventOutbox(RedisConnector redis, TimeProvider clock, IOptions<GatewayOptions> options)
{
    private readonly GatewayOptions _options = options.Value;

    /// <returns>Null when the event is gone (delivered); without <see cref="ClaimedEvent.Json"/> when it is not due yet.</returns>
    public async Task<ClaimedEvent?> ClaimAsync(EventRef e)
    {
        // NOTE: the lease outlasts one attempt, so a slow receiver is never sent the event twice at once.
        var lease = TimeSpan.FromSeconds(_options.Billing.Webhooks.TimeoutSeconds + 5);
        return await new ClaimEventScript(e, clock.GetUtcNow(), lease).RunAsync(await redis.DatabaseAsync());
    }

    /// <returns>Events the outcome raised (the result of an auto-recharge), to deliver in turn.</returns>
    public async Task<IReadOnlyList<string>> FinishAsync(EventRef e, DeliveryOutcome outcome, DateTimeOffset retryAt = default, string reason = "") =>
        await new FinishEventScript(e, clock.GetUtcNow(), outcome, retryAt, _options.Billing.GrantLifetime, reason, _options.Billing.Retention.Ledger).RunAsync(await redis.DatabaseAsync());

    /// <summary>Applies expiry and ledger retention to one account and returns the ids of its events due for delivery.</summary>
    public async Task<IReadOnlyList<string>> SweepAsync(string accountId) =>
        await new SweepScript(accountId, clock.GetUtcNow(), MaxEvents: 100, _options.Billing.Retention.Ledger).RunAsync(await redis.DatabaseAsync());

    public async Task<IReadOnlyList<string>> AccountIdsAsync() =>
        [.. (await (await redis.DatabaseAsync()).SetMembersAsync(AccountKeys.AccountIds)).Select(v => (string)v!)];
}
