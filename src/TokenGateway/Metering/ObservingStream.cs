namespace TokenGateway.Metering;

/// <summary>
/// For JSON responses: every write goes straight through, and the bytes are shown to an observer
/// on the way. Nothing is buffered here.
/// </summary>
internal sealed class ObservingStream(Stream inner, Action<ReadOnlySpan<byte>> observe) : MeteringStream(inner)
{
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await Inner.WriteAsync(buffer, cancellationToken);
        Written(buffer.Length);
        observe(buffer.Span);
    }
}
