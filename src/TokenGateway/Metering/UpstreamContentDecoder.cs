using System.Net;
using System.IO.Compression;

namespace TokenGateway.Metering;

/// <summary>
/// Decodes a response body the upstream compressed although the gateway did not ask it to (gzip, deflate, br), so the
/// usage scanner always reads JSON/SSE and the client gets the body as the upstream meant it. Unlike
/// <c>SocketsHttpHandler.AutomaticDecompression</c> it never adds <c>Accept-Encoding</c> to the request: the upstream
/// hop is a datacenter link, where inflating every answer costs the gateway more CPU than the bytes saved are worth
/// (measured in docs/benchmarks/proxy.md, issue 14).
/// </summary>
internal sealed class UpstreamContentDecoder(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        var encodings = response.Content.Headers.ContentEncoding;
        // NOTE: one coding only, as SocketsHttpHandler decodes; a stack of codings (rare) goes through as it came, and a
        // body the scanner cannot read is then billed like one without usage (its input).
        if (encodings.Count != 1 || Decoder(encodings.First()) is not { } decode) return response;
        response.Content = new DecodedContent(response.Content, decode);
        return response;
    }

    private static Func<Stream, Stream>? Decoder(string coding) => coding.ToLowerInvariant() switch
    {
        "gzip" or "x-gzip" => s => new GZipStream(s, CompressionMode.Decompress),
        "deflate" => s => new ZLibStream(s, CompressionMode.Decompress),
        "br" => s => new BrotliStream(s, CompressionMode.Decompress),
        _ => null,
    };

    /// <summary>The decoded body: the original's headers but its coding and length, which no longer apply.</summary>
    private sealed class DecodedContent : HttpContent
    {
        private readonly HttpContent _encoded;
        private readonly Func<Stream, Stream> _decode;

        public DecodedContent(HttpContent encoded, Func<Stream, Stream> decode)
        {
            (_encoded, _decode) = (encoded, decode);
            foreach (var (name, values) in encoded.Headers.NonValidated)
            {
                if (name.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
                Headers.TryAddWithoutValidation(name, values);
            }
        }

        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            _decode(await _encoded.ReadAsStreamAsync(cancellationToken));

        protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var decoded = await CreateContentReadStreamAsync(cancellationToken);
            await decoded.CopyToAsync(stream, cancellationToken);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _encoded.Dispose();
            base.Dispose(disposing);
        }
    }
}
