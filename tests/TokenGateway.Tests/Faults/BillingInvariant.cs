using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Faults;

/// <summary>
/// What every fault test ends with, for an account that started empty and was funded once: the ledger's entries sum
/// to the balance, the balance never went below −overdraft at any ledger step, every served request was charged
/// exactly once (and nothing else was), each by the formula, and no hold is left.
/// </summary>
internal static class BillingInvariant
{
    /// <param name="served">The request ids (<c>x-tokengateway-request-id</c>) of the requests answered 200.</param>
    /// <param name="expectedCost">The charge a debit must have, from its ledger entry (asserting its counts as it likes).</param>
    public static async Task AssertAsync(GatewayHost gw, string account, long overdraftMicros, IReadOnlyCollection<string> served, Func<JsonElement, long> expectedCost)
    {
        Assert.Equal(0, await gw.HeldMicrosAsync(account));
        var balance = await gw.BalanceMicrosAsync(account);
        var ledger = await gw.LedgerAsync(account, pageSize: 200);
        Assert.Equal(balance, ledger.Sum(e => e.GetProperty("amount_micros").GetInt64()));
        Assert.Equal(balance, ledger[^1].GetProperty("balance_micros").GetInt64());
        Assert.All(ledger, e => Assert.True(e.GetProperty("balance_micros").GetInt64() >= -overdraftMicros,
            $"the balance went to {e.GetProperty("balance_micros").GetInt64()} µ$, below -overdraft {-overdraftMicros}"));
        var debits = ledger.Where(e => e.GetProperty("type").GetString() == "debit").ToList();
        Assert.Equal(served.Order(StringComparer.Ordinal), debits.Select(d => d.GetProperty("request_id").GetString()!).Order(StringComparer.Ordinal));
        Assert.All(debits, d => Assert.Equal(-expectedCost(d), d.GetProperty("amount_micros").GetInt64()));
    }
}
