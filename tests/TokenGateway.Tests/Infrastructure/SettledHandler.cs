using System.Net;
using TokenGateway.Metering;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>
/// The tests' HTTP handler for a gateway: a response body ends (its reader sees the end of the stream) only once the
/// settles the gateway started by then have ended. The gateway settles after an answer's last byte (issue 14), so a test
/// that reads Redis right after an answer would otherwise race the settle; its admin API waits by itself
/// (ReadYourWritesMiddleware). Tests of that order itself use a plain client.
/// </summary>
internal sealed class SettledHandler(PendingSettles settles, HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        response.Content = new SettledContent(response.Content, settles);
        return response;
    }

    private sealed class SettledContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly PendingSettles _settles;

        public SettledContent(HttpContent inner, PendingSettles settles)
        {
            (_inner, _settles) = (inner, settles);
            foreach (var (name, values) in inner.Headers) Headers.TryAddWithoutValidation(name, values);
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await _inner.CopyToAsync(stream);
            await _settles.WhenSettledAsync(TimeSpan.FromSeconds(10));
        }

        protected override async Task<Stream> CreateContentReadStreamAsync() => new EndWaitsStream(await _inner.ReadAsStreamAsync(), _settles);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _inner.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class EndWaitsStream(Stream inner, PendingSettles settles) : Stream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await inner.ReadAsync(buffer, cancellationToken);
            if (n == 0 && buffer.Length > 0) await settles.WhenSettledAsync(TimeSpan.FromSeconds(10));
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
