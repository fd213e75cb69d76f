using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using TokenGateway.Billing.Scripts;
using TokenGateway.Events;
using TokenGateway.Redis;

namespace TokenGateway.Billing;

/// <summary>A team admin's request for credit, as its status is recorded.</summary>
/// <param name="Status">pending, approved or refused.</param>
internal sealed record CreditRequest(string Id, long AmountMicros, string Status, DateTimeOffset CreatedAt, string? Reason);

/// <summary>
/// Credit a team admin asks for: sent to the funding webhook (the company's billing system) like a webhook-mode
/// auto-recharge, granted when it approves (2xx) and recorded as refused when it refuses (4xx, or no webhook).
/// </summary>
internal sealed class CreditRequests(RedisConnector redis, TimeProvider clock, EventQueue events)
{
    /// <returns>The request's id, or null when the account does not exist.</returns>
    public async Task<string?> RequestAsync(string accountId, long amountMicros, string requestedBy)
    {
        var id = "creq_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var raised = await new RequestCreditScript(accountId, id, amountMicros, clock.GetUtcNow(), requestedBy).RunAsync(await redis.DatabaseAsync());
        if (raised is null) return null;
        foreach (var e in raised) events.Enqueue(accountId, e);
        return id;
    }

    /// <summary>Every request of the account, newest first.</summary>
    public async Task<IReadOnlyList<CreditRequest>> ListAsync(string accountId)
    {
        var entries = await (await redis.DatabaseAsync()).HashGetAllAsync(new AccountKeys(accountId).CreditRequests);
        return [.. entries.Select(e => Parse((string)e.Name!, (string)e.Value!)).OrderByDescending(r => r.CreatedAt)];
    }

    private static CreditRequest Parse(string id, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement;
        string? Text(string name) => r.TryGetProperty(name, out var v) ? v.GetString() : null;
        return new CreditRequest(id, long.Parse(Text("amount_micros") ?? "0", CultureInfo.InvariantCulture), Text("status") ?? "pending",
            DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(Text("created_ms") ?? "0", CultureInfo.InvariantCulture)), Text("reason"));
    }
}
