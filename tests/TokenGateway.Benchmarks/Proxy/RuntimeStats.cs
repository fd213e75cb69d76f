using System.Runtime;
using System.Text.Json.Serialization;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// The runtime's cumulative counters of one arm's process, read before and after a measured run: their difference is
/// what the run cost in allocations, collections, JIT work and thread-pool hand-offs.
/// </summary>
internal sealed record RuntimeStats(
    [property: JsonPropertyName("allocated_bytes")] long AllocatedBytes,
    [property: JsonPropertyName("gen0")] int Gen0,
    [property: JsonPropertyName("gen1")] int Gen1,
    [property: JsonPropertyName("gen2")] int Gen2,
    [property: JsonPropertyName("gc_pause_ms")] double GcPauseMs,
    [property: JsonPropertyName("jit_methods")] long JitMethods,
    [property: JsonPropertyName("jit_ms")] double JitMs,
    [property: JsonPropertyName("threadpool_items")] long ThreadPoolItems,
    [property: JsonPropertyName("threadpool_threads")] int ThreadPoolThreads,
    [property: JsonPropertyName("lock_contentions")] long LockContentions,
    [property: JsonPropertyName("server_gc")] bool ServerGc,
    [property: JsonPropertyName("redis_operations")] long RedisOperations,
    [property: JsonPropertyName("gc_committed_bytes")] long GcCommittedBytes)
{
    /// <param name="redisOperations">The gateway's Redis client's count of commands sent (its round trips); 0 elsewhere.</param>
    public static RuntimeStats Now(long redisOperations) => new(
        // NOTE: precise (true) so that the allocation contexts of every thread are counted, not only the filled ones.
        GC.GetTotalAllocatedBytes(precise: true),
        GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
        GC.GetTotalPauseDuration().TotalMilliseconds,
        // NOTE: methods compiled at any tier, and the time spent: both keep rising while tiered compilation is still
        // promoting hot methods, so a run that adds (almost) none was measured on settled code.
        System.Runtime.JitInfo.GetCompiledMethodCount(currentThread: false),
        System.Runtime.JitInfo.GetCompilationTime(currentThread: false).TotalMilliseconds,
        ThreadPool.CompletedWorkItemCount, ThreadPool.ThreadCount,
        Monitor.LockContentionCount,
        GCSettings.IsServerGC,
        redisOperations,
        // NOTE: memory the GC has committed for the managed heap (after the last collection): the part of RSS that GC
        // settings can change; the rest is code, the runtime and native buffers.
        GC.GetGCMemoryInfo().TotalCommittedBytes);

    public RuntimeStats Minus(RuntimeStats before) => new(
        AllocatedBytes - before.AllocatedBytes, Gen0 - before.Gen0, Gen1 - before.Gen1, Gen2 - before.Gen2,
        GcPauseMs - before.GcPauseMs, JitMethods - before.JitMethods, JitMs - before.JitMs,
        ThreadPoolItems - before.ThreadPoolItems, ThreadPoolThreads, LockContentions - before.LockContentions, ServerGc,
        RedisOperations - before.RedisOperations, GcCommittedBytes);
}
