using Microsoft.AspNetCore.Http.Features;

namespace TokenGateway.Metering;

/// <summary>Reads a request body once, up to a limit: the hot path needs the whole JSON to find the model.</summary>
internal static class RequestBody
{
    /// <summary>The body, or null when it is larger than <paramref name="limit"/> bytes.</summary>
    public static async Task<byte[]?> ReadAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        if (request.ContentLength > limit) return null;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = limit + 1;
        using var buffer = new MemoryStream(request.ContentLength is long n ? (int)n : 16 * 1024);
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    public static bool IsJson(string? contentType) =>
        contentType is not null && (contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            || (contentType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && contentType.Contains("+json", StringComparison.OrdinalIgnoreCase)));
}
