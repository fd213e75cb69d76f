using StackExchange.Redis;
using TokenGateway.Events;
using TokenGateway.Redis;

namespace TokenGateway.Billing.Scripts;

/// <summary>
/// claim_event.lua: claims an outbox event for one delivery attempt, only when it is due, and pushes it out by a
/// lease so that two replicas never deliver it at once. The arguments are now, the event id and the lease.
/// </summary>
internal readonly record struct ClaimEventScript(EventRef Event, DateTimeOffset Now, TimeSpan Lease)
{
    public static readonly BillingScript Script = new("claim_event");

    public static string Text => Script.Text;

    /// <returns>Null when the event is gone (delivered); without <see cref="ClaimedEvent.Json"/> when it is not due yet.</returns>
    public async Task<ClaimedEvent?> RunAsync(IDatabase db) =>
        Decode(Event, await Script.EvaluateAsync(db, new AccountKeys(Event.AccountId).ScriptKeys(),
            [Now.ToUnixTimeMilliseconds(), Event.EventId, (long)Lease.TotalMilliseconds]));

    /// <summary>{} gone | {0, due ms} not due yet | {event json, attempt number}.</summary>
    private static ClaimedEvent? Decode(EventRef e, RedisResult reply)
    {
        var r = (RedisResult[])reply!;
        return r.Length switch
        {
            0 => null,
            _ when (string?)r[0] == "0" => new ClaimedEvent(e, null, 0, DateTimeOffset.FromUnixTimeMilliseconds((long)r[1])),
            _ => new ClaimedEvent(e, (string)r[0]!, (int)r[1]),
        };
    }
}
