using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// A loopback-only TCP port in each arm's process that answers every connection with one line of JSON, the runtime's
/// own counters (<see cref="RuntimeStats"/>), and closes. Not an HTTP route of the server under test, so reading it
/// adds nothing to that server's pipeline, routes or metrics.
/// </summary>
internal sealed class StatsListener : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private StatsListener(TcpListener listener)
    {
        _listener = listener;
        RedisOperations = () => 0;
        _loop = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The commands the arm's Redis client has sent so far (set by the gateway's arm).</summary>
    public Func<long> RedisOperations { get; set; }

    public static StatsListener Start()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return new StatsListener(listener);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                var line = JsonSerializer.SerializeToUtf8Bytes(RuntimeStats.Now(RedisOperations()));
                await client.GetStream().WriteAsync(line, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (IOException)
            {
                // The reader went away: nothing to answer.
            }
        }
    }

    /// <summary>The harness's side: one reading of an arm's counters.</summary>
    public static async Task<RuntimeStats> ReadAsync(int port, CancellationToken ct)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, ct);
        return await JsonSerializer.DeserializeAsync<RuntimeStats>(client.GetStream(), cancellationToken: ct)
            ?? throw new InvalidOperationException("An arm sent empty stats.");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
