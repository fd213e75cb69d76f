using System.Net;
using System.Text;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>Concurrent raw chat requests for the fault tests: each answer's status and the gateway's request id.</summary>
public static class ChatLoad
{
    public const string Chat = """{"model":"gpt-4o","max_tokens":12,"messages":[{"role":"user","content":"go"}]}""";

    /// <summary>gpt-4o at the mock's defaults (40 prompt, 12 completion tokens): 40 × 2.5 + 12 × 10 = 220 µ$.</summary>
    public const long ChatCostMicros = 220;

    /// <summary>A plain client, for a gateway in a process of its own (whose settles a test cannot wait for here).</summary>
    public static HttpClient Client(string baseUrl) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 300 }) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>A client of <paramref name="gw"/> whose answers end once their settles have (<see cref="GatewayHost.Settled"/>).</summary>
    public static HttpClient Client(GatewayHost gw) =>
        new(gw.Settled(new SocketsHttpHandler { MaxConnectionsPerServer = 300 })) { BaseAddress = new Uri(gw.BaseUrl), Timeout = TimeSpan.FromSeconds(60) };

    public static async Task<(HttpStatusCode Status, string? RequestId)> SendAsync(HttpClient client, string key, string body = Chat, CancellationToken cancel = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", key);
        using var response = await client.SendAsync(request, cancel);
        await response.Content.ReadAsByteArrayAsync(cancel);
        return (response.StatusCode, response.Headers.TryGetValues("x-tokengateway-request-id", out var ids) ? ids.Single() : null);
    }

    /// <summary>Polls until <paramref name="done"/> holds, for at most <paramref name="timeout"/>; false if it never did.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> done, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                if (await done()) return true;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not up yet, or too slow to answer on a loaded machine (HttpClient.Timeout): ask again until the deadline.
            }
            if (DateTime.UtcNow > until) return false;
            await Task.Delay(100);
        }
    }
}
