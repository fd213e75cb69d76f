using System.Collections.Concurrent;

namespace TokenGateway.Metering;

/// <summary>
/// The settles this replica has started and not finished. A metered request's settle runs after its answer is complete
/// (issue 14: it no longer delays the answer's last byte, a Redis round trip at one connection), so two things wait for
/// them here: a read of balances, usage or the ledger on this replica (<see cref="ReadYourWritesMiddleware"/>: a client
/// that reads its balance right after an answer sees that answer charged), and shutdown (nothing started is dropped).
/// A settle Redis does not take is queued in the settle journal (<see cref="HeldRequest"/>), so waiting here is short.
/// </summary>
internal sealed partial class PendingSettles(ILogger<PendingSettles> logger)
{
    private readonly ConcurrentDictionary<long, Task> _pending = new();
    private long _next;

    public int Count => _pending.Count;

    /// <summary>Keeps <paramref name="settle"/> until it ends; an exception it ends with is logged (the journal has handled Redis's).</summary>
    public void Track(Task settle)
    {
        var id = Interlocked.Increment(ref _next);
        _pending[id] = settle;
        _ = ForgetWhenDoneAsync(id, settle);
    }

    private async Task ForgetWhenDoneAsync(long id, Task settle)
    {
        try
        {
            await settle.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.SettleFailed(logger, e);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// Waits for the settles started before this call (and any started meanwhile), at most <paramref name="max"/>; true
    /// when none is left of those.
    /// </summary>
    public async Task<bool> WhenSettledAsync(TimeSpan max)
    {
        if (_pending.IsEmpty) return true;
        try
        {
            await Task.WhenAll(_pending.Values).WaitAsync(max).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (Exception)
        {
            // A settle's own failure is ForgetWhenDoneAsync's to log; it has ended, which is what this waits for.
        }
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 229, Level = LogLevel.Error, Message = "A settle failed after its answer was sent")]
        public static partial void SettleFailed(ILogger logger, Exception exception);
    }
}

/// <summary>
/// Read-your-writes on one replica: a request that reads billing state (the admin API, the organization and dashboard
/// APIs, the console) first waits for the settles this replica started before it, up to a second. Metered and forwarded
/// requests (the rest of /v1) and the probes do not wait.
/// </summary>
internal static class ReadYourWritesMiddleware
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(1);

    public static IApplicationBuilder UseReadYourWrites(this IApplicationBuilder app)
    {
        var settles = app.ApplicationServices.GetRequiredService<PendingSettles>();
        return app.Use(async (context, next) =>
        {
            // NOTE: the path first: a metered request never touches the dictionary (its Count takes every lock).
            if (ReadsBilling(context.Request.Path)) await settles.WhenSettledAsync(MaxWait);
            await next(context);
        });
    }

    private static bool ReadsBilling(PathString path) =>
        path.StartsWithSegments("/v1") ? path.StartsWithSegments("/v1/organization") || path.StartsWithSegments("/v1/dashboard")
        : !path.StartsWithSegments("/metrics") && !path.StartsWithSegments("/healthz") && !path.StartsWithSegments("/readyz");
}
