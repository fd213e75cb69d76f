using System.Diagnostics;
using System.Net;
using System.Text;
using TokenGateway.MockUpstream;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.MockUpstream;

/// <summary>
/// The paced stream the proxy benchmark measures time to first token with: the role chunk at once, then each content
/// delta after the interval (from the option or the <c>x-mock-delta-interval-ms</c> header), the usage and [DONE] intact.
/// Only lower bounds are asserted: a delay may run late on a loaded machine, never early.
/// </summary>
public sealed class MockUpstreamPacingTests : IAsyncLifetime
{
    private const string StreamBody = """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""";

    private MockUpstreamServer _mock = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _mock = await MockUpstreamServer.StartAsync();
        _client = MockUpstreamClient.Create(_mock);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _mock.DisposeAsync();
    }

    [Fact]
    public async Task DeltaIntervalHeader_SpacesEveryContentDelta_AndKeepsTheStreamComplete()
    {
        var events = await ReadTimedEventsAsync(header: 40);

        // role chunk, 5 content deltas (w0..w4), the finish chunk, the usage chunk, [DONE]
        Assert.Equal(9, events.Count);
        Assert.Contains("\"role\":\"assistant\"", events[0].Data);
        var deltas = events.Skip(1).Take(5).ToList();
        Assert.All(deltas, (e, i) => Assert.Contains($"\"content\":\"{(i == 0 ? "" : " ")}w{i}\"", e.Data));
        // NOTE: measured from the request, not between events: a late read of one event would shorten the next gap.
        // The k-th delta cannot arrive before k intervals have passed on the server (2 ms of slack for the clocks).
        for (var k = 1; k <= 5; k++) Assert.True(events[k].At >= TimeSpan.FromMilliseconds(k * 40 - 2), $"delta {k} came {events[k].At.TotalMilliseconds} ms after the request");
        Assert.Contains("\"completion_tokens\":5", events[^2].Data);
        Assert.Equal("data: [DONE]", events[^1].Data);
    }

    [Fact]
    public async Task DeltaIntervalOption_PacesWithoutTheHeader()
    {
        _mock.Options.DeltaInterval = TimeSpan.FromMilliseconds(30);

        var events = await ReadTimedEventsAsync(header: null);

        Assert.Equal(9, events.Count);
        Assert.True(events[5].At >= TimeSpan.FromMilliseconds(5 * 30 - 2), $"5 paced deltas came {events[5].At.TotalMilliseconds} ms after the request");
    }

    [Fact]
    public async Task DeltaIntervalHeader_DoesNotDelayNonStreamingAnswers_WhichStayWhole()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-mock-delta-interval-ms", "10000");

        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"content\":\"w0 w1 w2 w3 w4\"", await response.Content.ReadAsStringAsync());
    }

    /// <summary>Each SSE line (<c>data: …</c>) with the time it was read, from just before the request was sent.</summary>
    private async Task<List<(string Data, TimeSpan At)>> ReadTimedEventsAsync(int? header)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(StreamBody, Encoding.UTF8, "application/json") };
        if (header is int ms) request.Headers.Add("x-mock-delta-interval-ms", ms.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var clock = Stopwatch.StartNew();
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<(string, TimeSpan)>();
        while (await reader.ReadLineAsync() is { } line)
            if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add((line, clock.Elapsed));
        return events;
    }
}
