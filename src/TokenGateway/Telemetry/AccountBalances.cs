using System.Diagnostics.Metrics;

namespace TokenGateway.Telemetry;

/// <summary>
/// The last balances read from Redis by <see cref="BalanceRefresher"/>. The gauges read this snapshot,
/// so a scrape never waits for Redis, and every replica reports the same (Redis') values.
/// </summary>
internal sealed class AccountBalances
{
    private volatile IReadOnlyList<AccountBalance> _current = [];

    public IReadOnlyList<AccountBalance> Current => _current;

    public void Replace(IReadOnlyList<AccountBalance> balances) => _current = balances;

    public IEnumerable<Measurement<double>> Balances() =>
        _current.Select(b => new Measurement<double>(b.BalanceMicros / 1_000_000d, new KeyValuePair<string, object?>("account", b.AccountId)));

    public IEnumerable<Measurement<double>> Held() =>
        _current.Select(b => new Measurement<double>(b.HeldMicros / 1_000_000d, new KeyValuePair<string, object?>("account", b.AccountId)));
}

internal readonly record struct AccountBalance(string AccountId, long BalanceMicros, long HeldMicros);
