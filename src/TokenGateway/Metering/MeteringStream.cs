using System.Diagnostics;

namespace TokenGateway.Metering;

/// <summary>
/// Base of the streams that wrap the client's response body while it is metered: write-only,
/// flushes pass straight through, and the bytes that reached the client are counted.
/// </summary>
internal abstract class MeteringStream(Stream inner) : Stream
{
    protected Stream Inner => inner;

    /// <summary>Bytes written to the client so far: zero means the client received nothing.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>When the first bytes reached the client (<see cref="Stopwatch"/> timestamp, 0 if none did): a stream's time to first token.</summary>
    public long FirstWriteTimestamp { get; private set; }

    protected void Written(int count)
    {
        if (BytesWritten == 0 && count > 0) FirstWriteTimestamp = Stopwatch.GetTimestamp();
        BytesWritten += count;
    }

    public abstract override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
