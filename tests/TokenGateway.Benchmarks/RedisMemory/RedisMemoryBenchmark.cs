using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using TokenGateway.Billing;
using TokenGateway.Hosting;
using TokenGateway.Keys;
using TokenGateway.Metering;
using TokenGateway.Pricing;
using TokenGateway.Redis;
using TokenGateway.Testing;

namespace TokenGateway.Benchmarks.RedisMemory;

/// <summary>
/// <c>redis-memory [--requests N] [--accounts A] [--keys K] [--concurrency C]</c>: what N settled requests leave in
/// Redis. Starts a throw-away redis-server and the real gateway wiring (<see cref="GatewayApplication.Build"/>), funds
/// A accounts, then runs N settles through <see cref="BillingStore.SettleAsync"/> (the production settle path and
/// script, real prices from pricing.json) over A accounts × 3 models × K keys per account, with varied token counts,
/// and reads <c>INFO memory</c> and <c>MEMORY USAGE … SAMPLES 0</c> before and after. Reported per request: the ledger
/// streams, the settled markers (and what deleting them frees: their share of the keyspace and expiry tables) and
/// the whole <c>used_memory</c> delta; the usage-day hashes, which grow per
/// (day, model, key) and not per request, per field and per hash. See docs/redis-memory.md.
/// </summary>
internal static class RedisMemoryBenchmark
{
    private static readonly string[] Models = ["gpt-4o", "gpt-4o-mini", "gpt-4.1"];

    public static async Task<int> RunAsync(string[] args)
    {
        int requests = Option(args, "--requests", 100_000), accounts = Option(args, "--accounts", 4);
        int keysPerAccount = Option(args, "--keys", 5), concurrency = Option(args, "--concurrency", 64);

        await using var redis = await RedisProcess.StartAsync();
        string[] gatewayArgs =
        [
            "--urls", "http://127.0.0.1:0",
            "--contentRoot", AppContext.BaseDirectory,
            "--TokenGateway:Upstream:BaseUrl=http://127.0.0.1:9",
            $"--TokenGateway:Redis:Configuration={redis.Configuration}",
        ];
        var app = GatewayApplication.Build(gatewayArgs, builder => builder.Logging.ClearProviders());
        await app.StartAsync();
        try
        {
            var billing = app.Services.GetRequiredService<BillingStore>();
            var pricing = app.Services.GetRequiredService<PricingCatalog>().Current;
            var accountIds = Enumerable.Range(0, accounts).Select(i => $"acct{i:D3}").ToArray();
            var keyIds = accountIds.ToDictionary(a => a, _ => Enumerable.Range(0, keysPerAccount).Select(_ => GatewayKeySecret.NewKeyId()).ToArray());
            foreach (var a in accountIds)
            {
                await billing.CreateAccountAsync(a, "Team " + a);
                await billing.AddGrantAsync(a, 1_000_000_000_000, "manual", null, null); // $1M: never short
            }

            using var client = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
            var db = client.GetDatabase();
            var server = client.GetServer(client.GetEndPoints()[0]);
            var before = await UsedMemoryAsync(server);
            var beforeStreams = await SumAsync(db, accountIds.Select(a => new AccountKeys(a).Ledger));

            var started = DateTime.UtcNow;
            await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, _) =>
            {
                var random = new Random(i);
                var account = accountIds[i % accounts];
                var model = Models[i / accounts % Models.Length];
                var keyId = keyIds[account][i / accounts / Models.Length % keysPerAccount];
                var input = random.Next(20, 4000);
                var usage = new TokenUsage(input, random.Next(3) == 0 ? random.Next(0, input) : 0, random.Next(1, 1500)) { ServiceTier = "default" };
                var price = pricing.Find(model) ?? throw new InvalidOperationException($"{model} has no price.");
                var charge = price.Price.Cost(usage);
                // NOTE: the gateway's own request id format (MeteredProxy): "req_" and 32 hex digits.
                await billing.SettleAsync(new SettleRequest(account, keyId, "req_" + Guid.NewGuid().ToString("N"), price.Label, charge, usage));
            });
            var elapsed = DateTime.UtcNow - started;

            var after = await UsedMemoryAsync(server);
            var streams = await SumAsync(db, accountIds.Select(a => new AccountKeys(a).Ledger)) - beforeStreams;
            var usageKeys = Scan(server, "*:usage:*");
            var usage = await SumAsync(db, usageKeys);
            var usageFields = 0L;
            foreach (var k in usageKeys) usageFields += await db.HashLengthAsync(k);
            var markers = Scan(server, "*:settled:*");
            var markerBytes = await SumAsync(db, markers);
            var ledgerEntries = 0L;
            foreach (var a in accountIds) ledgerEntries += await db.StreamLengthAsync(new AccountKeys(a).Ledger);

            // MEMORY USAGE leaves out a key's share of the keyspace and expiry tables: deleting the markers shows their full cost.
            var beforeDelete = await UsedMemoryAsync(server);
            var ttl = markers.Count > 0 ? await db.KeyTimeToLiveAsync(markers[0]) : null;
            foreach (var batch in markers.Chunk(1000)) await db.KeyDeleteAsync(batch);
            var markersFreed = beforeDelete - await UsedMemoryAsync(server);

            string Ttl(TimeSpan? t) => t is { } v ? $"{v.TotalSeconds:N0} s ({v.TotalDays:N1} days)" : "none";
            var info = (await server.InfoAsync("server")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
            var config = await server.ConfigGetAsync("stream-node-max-*");
            Console.WriteLine($"redis {info["redis_version"]}, {string.Join(", ", config.Select(c => $"{c.Key} {c.Value}"))}");
            Console.WriteLine($"{requests:N0} settles over {accounts} accounts x {Models.Length} models x {keysPerAccount} keys in {elapsed.TotalSeconds:N1} s ({requests / elapsed.TotalSeconds:N0}/s)");
            Console.WriteLine($"ledger entries now {ledgerEntries:N0}, settled markers {markers.Count:N0}, usage hashes {usageKeys.Count} with {usageFields:N0} fields");
            Console.WriteLine($"TTL of a settled marker: {Ttl(ttl)}; of a usage-day hash: {Ttl(usageKeys.Count > 0 ? await db.KeyTimeToLiveAsync(usageKeys[0]) : null)}");
            Console.WriteLine();
            Console.WriteLine("| what | bytes | per request |");
            Console.WriteLine("|---|---:|---:|");
            Row("ledger streams (MEMORY USAGE, growth)", streams, requests);
            Row("settled markers (MEMORY USAGE, sum)", markerBytes, requests);
            Row("settled markers (used_memory freed by deleting them)", markersFreed, requests);
            Row("usage-day hashes (MEMORY USAGE, sum)", usage, requests);
            Row("used_memory delta (everything)", after - before, requests);
            Console.WriteLine();
            Console.WriteLine($"usage-day hashes: {(usageKeys.Count == 0 ? 0 : usage / usageKeys.Count):N0} B per hash, {(usageFields == 0 ? 0 : usage / usageFields):N0} B per field");
            return 0;
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static void Row(string what, long bytes, int requests) =>
        Console.WriteLine($"| {what} | {bytes:N0} | {(double)bytes / requests:N1} |");

    private static async Task<long> UsedMemoryAsync(IServer server)
    {
        var memory = (await server.InfoAsync("memory")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
        return long.Parse(memory["used_memory"], CultureInfo.InvariantCulture);
    }

    private static List<RedisKey> Scan(IServer server, string pattern) => [.. server.Keys(pattern: pattern, pageSize: 1000)];

    /// <summary>Sum of <c>MEMORY USAGE key SAMPLES 0</c> (every element counted, not a sample), pipelined.</summary>
    private static async Task<long> SumAsync(IDatabase db, IEnumerable<RedisKey> keys)
    {
        var sizes = await Task.WhenAll(keys.Select(k => db.ExecuteAsync("MEMORY", "USAGE", k, "SAMPLES", 0)));
        return sizes.Sum(s => s.IsNull ? 0 : (long)s);
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
