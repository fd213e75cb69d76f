using System.Buffers;
using Microsoft.AspNetCore.Http.Features;

namespace TokenGateway.Metering;

internal enum BodyStatus { Read, TooLarge, Malformed, ClientGone }

/// <summary>Reads a request body once, up to a limit: the hot path needs the whole JSON to find the model.</summary>
internal static class RequestBody
{
    /// <summary>The body, or why there is none: larger than <paramref name="limit"/> bytes (also chunked), malformed framing, or the client left.</summary>
    public static async Task<(byte[]? Body, BodyStatus Status)> ReadAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        if (request.ContentLength > limit) return (null, BodyStatus.TooLarge);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = limit + 1;
        try
        {
            return request.ContentLength is long length
                ? await ReadDeclaredAsync(request.Body, (int)length, context.RequestAborted)
                : await ReadChunkedAsync(request.Body, limit, context.RequestAborted);
        }
        catch (BadHttpRequestException e)
        {
            // NOTE: Kestrel enforces MaxRequestBodySize itself on a chunked body; other framing errors are the client's.
            return (null, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? BodyStatus.TooLarge : BodyStatus.Malformed);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            return (null, BodyStatus.ClientGone);
        }
    }

    /// <summary>
    /// A body of declared length (nearly every client's), read straight into its array: no buffer and no copy, which
    /// were the largest allocations of a small request (issue 14). Kestrel ends the body at the declared length.
    /// </summary>
    private static async Task<(byte[]?, BodyStatus)> ReadDeclaredAsync(Stream body, int length, CancellationToken cancellationToken)
    {
        var bytes = length == 0 ? [] : new byte[length];
        for (var read = 0; read < length; )
        {
            var n = await body.ReadAsync(bytes.AsMemory(read), cancellationToken);
            if (n == 0) return (null, BodyStatus.Malformed);
            read += n;
        }
        return (bytes, BodyStatus.Read);
    }

    private static async Task<(byte[]?, BodyStatus)> ReadChunkedAsync(Stream body, long limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream(16 * 1024);
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > limit) return (null, BodyStatus.TooLarge);
                buffer.Write(chunk, 0, read);
            }
            return (buffer.ToArray(), BodyStatus.Read);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    public static bool IsJson(string? contentType) =>
        contentType is not null && (contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            || (contentType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && contentType.Contains("+json", StringComparison.OrdinalIgnoreCase)));
}
