using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TokenGateway.Errors;
using TokenGateway.Redis;

namespace TokenGateway.Telemetry;

/// <summary>
/// Reads every account's <c>balance</c> and <c>held</c> from Redis on a timer into
/// <see cref="AccountBalances"/>: one SMEMBERS, then one pipelined HMGET per account.
/// </summary>
internal sealed partial class BalanceRefresher(
    RedisConnector redis, AccountBalances balances, GatewayMetrics metrics, IOptions<TelemetryOptions> options, ILogger<BalanceRefresher> logger)
    : BackgroundService
{
    private static readonly RedisValue[] Fields = ["balance", "held"];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(0.1, options.Value.BalanceRefreshSeconds)));
        try
        {
            do
            {
                await RefreshAsync();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public async Task RefreshAsync()
    {
        try
        {
            var db = await redis.DatabaseAsync();
            var ids = await db.SetMembersAsync(AccountKeys.AccountIds);
            var reads = ids.Select(id => (Id: (string)id!, Fields: db.HashGetAsync(new AccountKeys(id!).Account, Fields))).ToList();
            await Task.WhenAll(reads.Select(r => r.Fields));
            balances.Replace([.. reads.OrderBy(r => r.Id, StringComparer.Ordinal).Select(r => new AccountBalance(r.Id, Micros(r.Fields.Result[0]), Micros(r.Fields.Result[1])))]);
        }
        catch (Exception e) when (OpenAIError.IsBillingStoreFailure(e))
        {
            // NOTE: the previous snapshot stays: a gauge that vanished during a Redis outage would read as "no data".
            metrics.RedisError("balance_refresh");
            Log.RefreshFailed(logger, e);
        }
    }

    private static long Micros(RedisValue v) => long.TryParse((string?)v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var micros) ? micros : 0;

    private static partial class Log
    {
        [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "Balance gauges not refreshed: Redis error; the previous values are kept")]
        public static partial void RefreshFailed(ILogger logger, Exception exception);
    }
}
