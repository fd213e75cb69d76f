namespace TokenGateway.Benchmarks.Proxy;

/// <summary>Samples a process's resident memory every 100 ms while a run lasts: its peak and its average.</summary>
internal sealed class RssSampler : IAsyncDisposable
{
    private readonly int _pid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _peak;
    private double _sum;
    private int _samples;

    public RssSampler(int pid)
    {
        _pid = pid;
        Sample();
        _loop = Task.Run(LoopAsync);
    }

    private void Sample()
    {
        var rss = ProcStat.RssBytes(_pid);
        _peak = Math.Max(_peak, rss);
        _sum += rss;
        _samples++;
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token)) Sample();
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <returns>Peak and average resident bytes over the samples taken.</returns>
    public async Task<(long Peak, long Average)> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        Sample();
        return (_peak, (long)(_sum / _samples));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await StopAsync();
        _stop.Dispose();
    }
}
