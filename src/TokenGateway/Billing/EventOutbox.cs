using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Configuration;
using TokenGateway.Redis;

namespace TokenGateway.Billing;

/// <summary>An event read from an account's outbox for one delivery attempt.</summary>
/// <param name="Json">As the script wrote it: <c>{"type","ts","data":{…}}</c>; null when the event is not due yet.</param>
/// <param name="DueAt">When an event that is not due yet will be (a retry's time, or the end of another replica's lease).</param>
internal sealed record ClaimedEvent(EventRef Ref, string? Json, int Attempt, DateTimeOffset DueAt = default);

internal enum DeliveryOutcome { Retry, Delivered, Approved, Refused }

/// <summary>
/// The Redis side of webhook events. Scripts raise them inside the change that causes them (settle);
/// these scripts claim one for an attempt, record the outcome, and find the ones due.
/// </summary>
internal sealed class EventOutbox(RedisConnection redis, TimeProvider clock, IOptions<GatewayOptions> options)
{
    private static readonly RedisScript Claim = RedisScript.FromResources("claim_event");
    private static readonly RedisScript Finish = RedisScript.FromResources("finish_event");
    private static readonly RedisScript Sweep = RedisScript.FromResources("sweep");

    private readonly GatewayOptions _options = options.Value;

    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <returns>Null when the event is gone (delivered); without <see cref="ClaimedEvent.Json"/> when it is not due yet.</returns>
    public async Task<ClaimedEvent?> ClaimAsync(EventRef e)
    {
        // NOTE: the lease outlasts one attempt, so a slow receiver is never sent the event twice at once.
        var leaseMs = (_options.Billing.Webhooks.TimeoutSeconds + 5) * 1000L;
        var result = (RedisResult[])(await Claim.EvaluateAsync(redis.Database, new AccountKeys(e.AccountId).ScriptKeys(), [Now, e.EventId, leaseMs]))!;
        return result.Length switch
        {
            0 => null,
            _ when (string?)result[0] == "0" => new ClaimedEvent(e, null, 0, DateTimeOffset.FromUnixTimeMilliseconds((long)result[1])),
            _ => new ClaimedEvent(e, (string)result[0]!, (int)result[1]),
        };
    }

    /// <returns>Events the outcome raised (the result of an auto-recharge), to deliver in turn.</returns>
    public async Task<IReadOnlyList<string>> FinishAsync(EventRef e, DeliveryOutcome outcome, DateTimeOffset retryAt = default, string reason = "")
    {
        var result = (RedisResult[])(await Finish.EvaluateAsync(redis.Database, new AccountKeys(e.AccountId).ScriptKeys(),
            [Now, e.EventId, outcome.ToString().ToLowerInvariant(), retryAt.ToUnixTimeMilliseconds(), (long)_options.Billing.GrantLifetime.TotalMilliseconds, reason]))!;
        return [.. result.Select(r => (string)r!)];
    }

    /// <summary>Applies expiry to one account and returns the ids of its events due for delivery.</summary>
    public async Task<IReadOnlyList<string>> SweepAsync(string accountId)
    {
        var result = (RedisResult[])(await Sweep.EvaluateAsync(redis.Database, new AccountKeys(accountId).ScriptKeys(), [Now, 100]))!;
        return [.. result.Select(r => (string)r!)];
    }

    public async Task<IReadOnlyList<string>> AccountIdsAsync() =>
        [.. (await redis.Database.SetMembersAsync(AccountKeys.AccountIds)).Select(v => (string)v!)];
}
