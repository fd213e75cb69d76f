using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;
using TokenGateway.Testing;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>
/// A 3-master Redis Cluster on free loopback ports (no replicas, no persistence), created with
/// <c>redis-cli --cluster create</c>, and the slot migration a resharding does (CLUSTER SETSLOT IMPORTING/MIGRATING,
/// MIGRATE key by key, SETSLOT NODE), slowed down so that requests meet the slot half moved (ASK, TRYAGAIN).
/// </summary>
public sealed class RedisCluster : IAsyncDisposable
{
    private readonly List<Process> _nodes = [];
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-redis-cluster-").FullName;
    private ConnectionMultiplexer? _admin;

    public IReadOnlyList<int> Ports { get; } = [LoopbackPort.Free(), LoopbackPort.Free(), LoopbackPort.Free()];
    public string Configuration => string.Join(",", Ports.Select(p => $"127.0.0.1:{p.ToString(CultureInfo.InvariantCulture)}"));

    public static async Task<RedisCluster> StartAsync()
    {
        var cluster = new RedisCluster();
        try
        {
            await cluster.CreateAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task CreateAsync()
    {
        foreach (var port in Ports)
        {
            var p = port.ToString(CultureInfo.InvariantCulture);
            var node = Process.Start(new ProcessStartInfo("redis-server",
                ["--port", p, "--bind", "127.0.0.1", "--dir", _dir, "--cluster-enabled", "yes", "--cluster-config-file", $"nodes-{p}.conf",
                    "--save", "", "--appendonly", "no", "--protected-mode", "yes"]) { RedirectStandardOutput = true })!;
            node.OutputDataReceived += (_, _) => { };
            node.BeginOutputReadLine();
            _nodes.Add(node);
        }
        foreach (var port in Ports)
        {
            if (!await ChatLoad.EventuallyAsync(() => Task.FromResult(Run("redis-cli", "-p", port.ToString(CultureInfo.InvariantCulture), "ping").Contains("PONG", StringComparison.Ordinal)), TimeSpan.FromSeconds(10)))
                throw new TimeoutException($"cluster node {port} did not start.");
        }
        Run("redis-cli", ["--cluster", "create", .. Ports.Select(p => $"127.0.0.1:{p.ToString(CultureInfo.InvariantCulture)}"), "--cluster-replicas", "0", "--cluster-yes"]);
        if (!await ChatLoad.EventuallyAsync(() => Task.FromResult(Ports.All(p => Run("redis-cli", "-p", p.ToString(CultureInfo.InvariantCulture), "cluster", "info").Contains("cluster_state:ok", StringComparison.Ordinal))), TimeSpan.FromSeconds(20)))
            throw new TimeoutException("the cluster did not reach cluster_state:ok.");
        _admin = await ConnectionMultiplexer.ConnectAsync(Configuration + ",allowAdmin=true,protocol=resp2");
    }

    /// <summary>
    /// Moves the slot of <paramref name="hashTag"/> to another master, one key at a time with <paramref name="pause"/>
    /// between keys, as <c>redis-cli --cluster reshard</c> does (only slower). Returns the number of keys moved.
    /// </summary>
    public async Task<int> MigrateSlotAsync(string hashTag, TimeSpan pause)
    {
        var first = Server(Ports[0]);
        var slot = (long)await first.ExecuteAsync("CLUSTER", "KEYSLOT", hashTag);
        var nodes = ((string)(await first.ExecuteAsync("CLUSTER", "NODES"))!).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ')).Select(f => (Id: f[0], Port: int.Parse(f[1].Split('@')[0].Split(':')[1], CultureInfo.InvariantCulture), Slots: f[8..])).ToList();
        var source = nodes.Single(n => n.Slots.Any(range => Covers(range, slot)));
        var target = nodes.First(n => n.Id != source.Id);
        var from = Server(source.Port);
        var to = Server(target.Port);
        await to.ExecuteAsync("CLUSTER", "SETSLOT", slot, "IMPORTING", source.Id);
        await from.ExecuteAsync("CLUSTER", "SETSLOT", slot, "MIGRATING", target.Id);
        var moved = 0;
        while (true)
        {
            var keys = (RedisResult[])(await from.ExecuteAsync("CLUSTER", "GETKEYSINSLOT", slot, 1))!;
            if (keys.Length == 0) break;
            await from.ExecuteAsync("MIGRATE", "127.0.0.1", target.Port, "", 0, 5000, "KEYS", (string)keys[0]!);
            moved++;
            await Task.Delay(pause);
        }
        foreach (var node in nodes) await Server(node.Port).ExecuteAsync("CLUSTER", "SETSLOT", slot, "NODE", target.Id);
        return moved;
    }

    private static bool Covers(string range, long slot)
    {
        if (range.StartsWith('[')) return false; // a slot being migrated or imported
        var parts = range.Split('-');
        var low = long.Parse(parts[0], CultureInfo.InvariantCulture);
        var high = parts.Length > 1 ? long.Parse(parts[1], CultureInfo.InvariantCulture) : low;
        return slot >= low && slot <= high;
    }

    private IServer Server(int port) => _admin!.GetServer("127.0.0.1", port);

    private static string Run(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return output;
    }

    public async ValueTask DisposeAsync()
    {
        if (_admin is not null) await _admin.DisposeAsync();
        foreach (var node in _nodes)
        {
            if (!node.HasExited) node.Kill();
            node.WaitForExit(5000);
            node.Dispose();
        }
        Directory.Delete(_dir, recursive: true);
    }
}
