using System.Net;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>Outcome of the exact check: every request ran to its end, so the balance drop must match.</summary>
internal sealed record MeteringCheckResult(string Target, string Case, int Requests, int Ok, int Non200, int Incomplete, long DropMicros, long ExpectedMicros)
{
    public bool Passed => DropMicros == ExpectedMicros && Non200 == 0 && Incomplete == 0;
}

/// <summary>
/// A fixed number of requests through a gateway arm, none cut off (unlike wrk, which drops the requests in flight at
/// its deadline): the balance must drop by exactly successes × per-request cost.
/// </summary>
internal static class MeteringCheck
{
    public static async Task<MeteringCheckResult> RunAsync(string target, string baseUrl, GatewayAdmin admin, BenchAccount? account, BenchCase bench, int count, int concurrency, CancellationToken ct)
    {
        var before = await admin.SettledBalanceMicrosAsync(account, ct);
        using var client = new HttpClient(LoopbackHandler.Create(caFile: null, concurrency));
        int ok = 0, non200 = 0, incomplete = 0, next = -1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < count)
            {
                switch (await SendAsync(client, baseUrl, (account ?? admin.Main).Key, [], bench.Body, bench.Marker, ct))
                {
                    case HttpStatusCode.OK: Interlocked.Increment(ref ok); break;
                    case null: Interlocked.Increment(ref incomplete); break;
                    default: Interlocked.Increment(ref non200); break;
                }
            }
        }));
        var after = await admin.SettledBalanceMicrosAsync(account, ct);
        return new MeteringCheckResult(target, bench.Name, count, ok, non200, incomplete, before - after, ok * admin.CostMicros);
    }

    /// <summary>One benchmark request; null when a 200 came without its complete body.</summary>
    public static async Task<HttpStatusCode?> SendAsync(HttpClient client, string baseUrl, string key, string[] headers, string body, string marker, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/v1/chat/completions")
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", key);
        foreach (var header in headers)
        {
            var colon = header.IndexOf(':');
            request.Headers.Add(header[..colon], header[(colon + 1)..].Trim());
        }
        using var response = await client.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode == HttpStatusCode.OK && !text.Contains(marker, StringComparison.Ordinal)) return null;
        return response.StatusCode;
    }
}
