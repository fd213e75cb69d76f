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
        using var buffer = new MemoryStream(request.ContentLength is long n ? (int)n : 16 * 1024);
        var chunk = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
            {
                if (buffer.Length + read > limit) return (null, BodyStatus.TooLarge);
                buffer.Write(chunk, 0, read);
            }
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
        return (buffer.ToArray(), BodyStatus.Read);
    }

    public static bool IsJson(string? contentType) =>
        contentType is not null && (contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            || (contentType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && contentType.Contains("+json", StringComparison.OrdinalIgnoreCase)));
}
