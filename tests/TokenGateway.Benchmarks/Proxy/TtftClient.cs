using System.Diagnostics;
using System.Net;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>What the paced-stream client saw in one run. Times in ms, from writing the request.</summary>
internal sealed record TtftResult(int Ok, int Non200, int Incomplete, double Seconds, double[] FirstEvent, double[] FirstToken, double[] Whole)
{
    public double RequestsPerSecond => (Ok + Non200 + Incomplete) / Seconds;

    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>
/// Time to first token through a target, with an upstream that paces its deltas: a few connections in this process,
/// each sending the streaming request, stamping the first <c>data:</c> event (the role chunk), the first content
/// delta and the end of the stream. wrk cannot do this: its Lua sees a response only once it is complete.
/// </summary>
/// <remarks>
/// NOTE: every request started is run to its end, also after the deadline, so that the gateway's balance drop over a
/// run is exactly complete answers × cost (the exact check of this mode).
/// </remarks>
internal static class TtftClient
{
    public const string PaceHeader = "x-mock-delta-interval-ms";
    private static readonly byte[] Data = "data:"u8.ToArray();
    private static readonly byte[] Content = "\"content\":\"w"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]"u8.ToArray();

    /// <summary>Bytes kept from one read to the next, so that no marker is missed where two reads meet.</summary>
    private const int Carry = 16;

    public static async Task<TtftResult> RunAsync(
        string baseUrl, string key, string[] headers, int connections, int paceMs, int seconds, string? caFile, CancellationToken ct)
    {
        using var client = new HttpClient(LoopbackHandler.Create(caFile, connections)) { Timeout = TimeSpan.FromSeconds(30) };
        var body = ChatRequest.Body(stream: true);
        var firstEvent = new List<double>();
        var firstToken = new List<double>();
        var whole = new List<double>();
        int ok = 0, non200 = 0, incomplete = 0;
        var clock = Stopwatch.StartNew();
        var end = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            var buffer = new byte[16 * 1024];
            while (clock.Elapsed < end)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/v1/chat/completions")
                {
                    Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
                };
                request.Headers.Authorization = new("Bearer", key);
                request.Headers.Add(PaceHeader, paceMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
                foreach (var header in headers)
                {
                    var colon = header.IndexOf(':');
                    request.Headers.Add(header[..colon], header[(colon + 1)..].Trim());
                }
                var start = Stopwatch.GetTimestamp();
                double? eventAt = null, tokenAt = null;
                var done = false;
                HttpStatusCode? status = null;
                try
                {
                    using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
                    status = response.StatusCode;
                    await using var stream = await response.Content.ReadAsStreamAsync(ct);
                    var carry = 0;
                    int read;
                    while ((read = await stream.ReadAsync(buffer.AsMemory(carry), ct)) > 0)
                    {
                        var now = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        var seen = buffer.AsSpan(0, carry + read);
                        if (eventAt is null && seen.IndexOf(Data) >= 0) eventAt = now;
                        if (tokenAt is null && seen.IndexOf(Content) >= 0) tokenAt = now;
                        done |= seen.IndexOf(Done) >= 0;
                        carry = Math.Min(Carry, seen.Length);
                        seen[^carry..].CopyTo(buffer);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or IOException && !ct.IsCancellationRequested)
                {
                    // A broken answer counts as incomplete (and fails the run for a gateway), not as a crash of the harness.
                    done = false;
                }
                var total = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                lock (whole)
                {
                    if (status is { } code && code != HttpStatusCode.OK) non200++;
                    else if (eventAt is null || tokenAt is null || !done) incomplete++;
                    else
                    {
                        ok++;
                        firstEvent.Add(eventAt.Value);
                        firstToken.Add(tokenAt.Value);
                        whole.Add(total);
                    }
                }
            }
        }));
        double[] Sorted(List<double> values) => [.. values.Order()];
        return new TtftResult(ok, non200, incomplete, clock.Elapsed.TotalSeconds, Sorted(firstEvent), Sorted(firstToken), Sorted(whole));
    }
}
