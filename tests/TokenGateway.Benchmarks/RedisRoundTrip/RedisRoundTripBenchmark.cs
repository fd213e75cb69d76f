using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using StackExchange.Redis;
using TokenGateway.Testing;

namespace TokenGateway.Benchmarks.RedisRoundTrip;

/// <summary>
/// <c>redis-rtt [--gaps 0,1,5,20] [--pings 300]</c>: what one Redis round trip costs on this machine after the machine
/// has been idle for a while, the situation of a paced stream's reserve (issue 14: time to first token). For each gap
/// (ms of idle before each ping) the p50 and p90 of a PING through StackExchange.Redis (as the gateway sends its
/// scripts) and through a plain socket (no client library: the floor), against a redis-server of its own on loopback.
/// </summary>
internal static class RedisRoundTripBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var gaps = new[] { 0, 1, 5, 20 };
        var pings = 300;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--gaps": gaps = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--pings": pings = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine("usage: redis-rtt [--gaps 0,1,5,20] [--pings 300]"); return 2;
            }
        }
        await using var redis = await RedisProcess.StartAsync();
        await using var client = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var db = client.GetDatabase();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync("127.0.0.1", redis.Port);
        var ping = "*1\r\n$4\r\nPING\r\n"u8.ToArray();
        var reply = new byte[16];

        Console.WriteLine($"| idle before each ping | StackExchange.Redis p50 µs | p90 | plain socket p50 µs | p90 |");
        Console.WriteLine("|---:|---:|---:|---:|---:|");
        foreach (var gap in gaps)
        {
            var library = new List<double>(pings);
            var plain = new List<double>(pings);
            // Interleaved, so that both see the same machine; the first 10 of each are warm-up.
            for (var i = 0; i < pings + 10; i++)
            {
                if (gap > 0) await Task.Delay(gap);
                var start = Stopwatch.GetTimestamp();
                await db.PingAsync();
                if (i >= 10) library.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                if (gap > 0) await Task.Delay(gap);
                start = Stopwatch.GetTimestamp();
                await socket.SendAsync(ping);
                var read = 0;
                while (read < 7) read += await socket.ReceiveAsync(reply.AsMemory(read)); // +PONG\r\n
                if (i >= 10) plain.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {gap} ms | {Percentile(library, 50):F0} | {Percentile(library, 90):F0} | {Percentile(plain, 50):F0} | {Percentile(plain, 90):F0} |"));
        }
        return 0;
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(p / 100 * sorted.Count))];
    }
}
