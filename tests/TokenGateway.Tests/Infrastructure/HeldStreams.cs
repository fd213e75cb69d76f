using System.Text;
using System.Text.Json;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>
/// Streamed chat completions read as a client would, line by line: the request id, the content deltas received so far,
/// and the end (finished, or cut when the gateway died).
/// </summary>
public sealed class HeldStream
{
    private int _deltas;

    public string? RequestId { get; private set; }
    public int Deltas => Volatile.Read(ref _deltas);
    public Task<int> Completion { get; private set; } = Task.FromResult(0);

    /// <summary>Starts <paramref name="count"/> streams; each task ends with the stream (its status code, or 0 when cut).</summary>
    public static List<HeldStream> Start(HttpClient client, string key, int count, int maxTokens) =>
        [.. Enumerable.Range(0, count).Select(_ =>
        {
            var s = new HeldStream();
            s.Completion = s.RunAsync(client, key, maxTokens);
            return s;
        })];

    private async Task<int> RunAsync(HttpClient client, string key, int maxTokens)
    {
        var body = $$"""{"model":"gpt-4o","max_tokens":{{maxTokens}},"stream":true,"messages":[{"role":"user","content":"go"}]}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", key);
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            RequestId = response.Headers.TryGetValues("x-tokengateway-request-id", out var ids) ? ids.Single() : null;
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line)
            {
                if (!line.StartsWith("data: {", StringComparison.Ordinal)) continue;
                var choices = JsonDocument.Parse(line[6..]).RootElement.GetProperty("choices");
                if (choices.GetArrayLength() > 0 && choices[0].GetProperty("delta").TryGetProperty("content", out var c) && c.GetString() is { Length: > 0 })
                    Interlocked.Increment(ref _deltas);
            }
            return (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return 0;
        }
    }
}
