using System.Buffers;

namespace TokenGateway.Metering;

/// <summary>
/// Wraps the client's response body for a streamed response: complete events go straight through
/// (YARP flushes after each write), only the bytes of an unfinished event wait for its end, and the
/// usage-only chunk is dropped when the client did not ask for usage — so the client receives
/// exactly what OpenAI would have sent it.
/// </summary>
internal sealed class SseMeteringStream(Stream inner, StreamEventReader reader, bool dropUsageOnlyChunk) : MeteringStream(inner)
{
    private readonly ArrayBufferWriter<byte> _pending = new(1024);
    // NOTE: reused by every write (writes are sequential): a stream is a few dozen writes.
    private readonly List<(int Start, int End)> _dropped = [];

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var data = buffer;
        if (_pending.WrittenCount > 0)
        {
            _pending.Write(buffer.Span);
            data = _pending.WrittenMemory.ToArray();
            _pending.ResetWrittenCount();
        }
        var (forwardUntil, consumed, dropped) = Split(data.Span);
        // NOTE: segments are written in order; a dropped event splits the chunk in two writes.
        var from = 0;
        foreach (var (start, end) in dropped)
        {
            await WriteInnerAsync(data[from..start], cancellationToken);
            from = end;
        }
        await WriteInnerAsync(data[from..forwardUntil], cancellationToken);
        _pending.Write(data.Span[consumed..]);
    }

    private async ValueTask WriteInnerAsync(ReadOnlyMemory<byte> segment, CancellationToken cancellationToken)
    {
        if (segment.IsEmpty) return;
        await Inner.WriteAsync(segment, cancellationToken);
        Written(segment.Length);
    }

    /// <summary>Finds the complete events of <paramref name="data"/>, reads each, and lists the ones to drop.</summary>
    private (int ForwardUntil, int Consumed, List<(int Start, int End)> Dropped) Split(ReadOnlySpan<byte> data)
    {
        var dropped = _dropped;
        dropped.Clear();
        var start = 0;
        while (EventEnd(data, start) is int end)
        {
            if (reader.Read(data[start..end]) && dropUsageOnlyChunk) dropped.Add((start, end));
            start = end;
        }
        return (start, start, dropped);
    }

    /// <summary>Index just past the blank line that ends the event starting at <paramref name="start"/>.</summary>
    private static int? EventEnd(ReadOnlySpan<byte> data, int start)
    {
        for (var i = start; i < data.Length; i++)
        {
            if (data[i] != (byte)'\n') continue;
            var next = i + 1;
            if (next < data.Length && data[next] == (byte)'\r') next++;
            if (next < data.Length && data[next] == (byte)'\n') return next + 1;
        }
        return null;
    }
}
