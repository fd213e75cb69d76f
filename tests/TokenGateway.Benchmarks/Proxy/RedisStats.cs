using System.Globalization;
using StackExchange.Redis;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// Commands the benchmark's redis-server has processed (<c>INFO stats</c> and <c>INFO commandstats</c>): the difference
/// over a gateway run, divided by its requests, is the gateway's Redis round trips per request.
/// </summary>
/// <param name="Micros">Redis's own time per command (its <c>usec</c>): for EVALSHA, the scripts' execution.</param>
internal sealed record RedisStats(long Commands, IReadOnlyDictionary<string, long> Calls, IReadOnlyDictionary<string, long> Micros)
{
    public static async Task<RedisStats> ReadAsync(IServer server)
    {
        // NOTE: one INFO with both sections (Redis 7), so that a reading costs one command.
        var text = (string?)await server.ExecuteAsync("INFO", "stats", "commandstats") ?? "";
        long commands = 0;
        var calls = new Dictionary<string, long>();
        var micros = new Dictionary<string, long>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("total_commands_processed:", StringComparison.Ordinal))
                commands = long.Parse(line["total_commands_processed:".Length..], CultureInfo.InvariantCulture);
            else if (line.StartsWith("cmdstat_", StringComparison.Ordinal))
            {
                // cmdstat_evalsha:calls=123,usec=456,…
                var colon = line.IndexOf(':');
                var values = line[(colon + 1)..].Split(',');
                calls[line["cmdstat_".Length..colon]] = long.Parse(values[0]["calls=".Length..], CultureInfo.InvariantCulture);
                micros[line["cmdstat_".Length..colon]] = long.Parse(values[1]["usec=".Length..], CultureInfo.InvariantCulture);
            }
        }
        return new RedisStats(commands, calls, micros);
    }

    /// <summary>What happened between <paramref name="before"/> and this reading, less the INFO that took the first reading.</summary>
    public RedisStats Minus(RedisStats before) => new(
        Commands - before.Commands - 1,
        Calls.ToDictionary(c => c.Key, c => c.Value - before.Calls.GetValueOrDefault(c.Key) - (c.Key == "info" ? 1 : 0))
            .Where(c => c.Value > 0).ToDictionary(),
        Micros.ToDictionary(c => c.Key, c => c.Value - before.Micros.GetValueOrDefault(c.Key)));

    /// <summary>Redis's mean time per EVALSHA in µs (the scripts' execution); null without one.</summary>
    public double? EvalshaMicros => Calls.GetValueOrDefault("evalsha") is var n and > 0 ? (double)Micros.GetValueOrDefault("evalsha") / n : null;
}
