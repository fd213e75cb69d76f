using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using TokenGateway.Metering;
using TokenGateway.MockUpstream;
using TokenGateway.Tests.Infrastructure;
using TokenGateway.Tests.Telemetry;

namespace TokenGateway.Tests.Faults;

/// <summary>
/// An upstream that bills more input than the gateway counts locally (chat formatting, images, tools do), under
/// concurrency and two replicas sharing one Redis: the hold's input part is a bound the upstream cannot pass for text,
/// so the balance stays above −overdraft; and what passes it anyway is charged, counted and logged.
/// </summary>
public sealed class OverreportingUpstreamTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string WithLimit = """{"model":"gpt-4o","max_tokens":12,"messages":[{"role":"user","content":"go"}]}""";

    private static long LocalCount(string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        return InputTokenCounter.Count(RequestInspector.Inspect(MeteredEndpoint.ChatCompletions, bytes).Request!, bytes);
    }

    private static long Bound(string body) => InputTokenBound.Count("gpt-4o", Encoding.UTF8.GetBytes(body));

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    public async Task TwoReplicas_300ConcurrentOnACent_UpstreamReportingTenTimesTheLocalCount_BalanceNeverBelowOverdraft(long overdraftMicros)
    {
        await using var upstream = await MockUpstreamServer.StartAsync(https: true);
        var settings = new Dictionary<string, string>
        {
            ["Billing:OverdraftUsd"] = (overdraftMicros / 1_000_000m).ToString(CultureInfo.InvariantCulture),
            ["Billing:MinimumTopUpUsd"] = "0.01",
        };
        await using var a = await GatewayHost.StartAsync(redis, settings, sharedUpstream: upstream);
        await using var b = await GatewayHost.StartAsync(redis, settings, sharedUpstream: upstream);
        var account = "over-" + Guid.NewGuid().ToString("N")[..8];
        var key = await a.FundedKeyAsync(account, 0.01m);

        // Local count of "go": 1 + 3 per message + 3 priming = 7. Bound: 32 + 8 "messages" + 8 message + "role" 4 + "user" 4
        // + "content" 7 + "go" 2 = 65 (max_tokens is a control, not counted). The upstream reports min(10 × 7, 65) = 65:
        // as much as the bound allows, far beyond the old hold's 7 + 0 + 16 = 23 (with which this test ends near −7,000 µ$).
        var local = LocalCount(WithLimit);
        var prompt = (int)Math.Min(10 * local, Bound(WithLimit));
        Assert.True(prompt > local + local / 10 + 16, $"the upstream reports {prompt}, not more than the old hold's input part");
        upstream.Options.PromptTokens = prompt;
        upstream.Options.CompletionTokens = 12;
        // NOTE: every request with max_tokens 12, the smallest hold, so the most requests hold at once; the upstream takes
        // 100 ms, so most of them reserve before any settles.
        upstream.Options.Delay = TimeSpan.FromMilliseconds(100);
        // gpt-4o: 65 × 2.5 + 12 × 10 = 282.5 → 283 µ$ a request, as much as its hold (163 + 120).
        var cost = (long)Math.Ceiling(prompt * 2.5m + 12 * 10m);

        using var toA = Client(a);
        using var toB = Client(b);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var results = await Task.WhenAll(Enumerable.Range(0, 300).Select(i =>
            SendAsync(i % 2 == 0 ? toA : toB, key, WithLimit, deadline.Token)));

        Assert.All(results, r => Assert.Contains(r.Status, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
        var served = results.Where(r => r.Status == HttpStatusCode.OK).Select(r => r.RequestId!).ToList();
        // Each hold is exactly its charge, so the room is spent to the last request it pays for: $0.01 pays 35 of 283 µ$
        // (11,000 µ$ with the overdraft: 38).
        Assert.Equal((10_000 + overdraftMicros) / cost, served.Count);
        await BillingInvariant.AssertAsync(a, account, overdraftMicros, served, debit =>
        {
            Assert.Equal(prompt, debit.GetProperty("input_tokens").GetInt64());
            Assert.Equal(12, debit.GetProperty("output_tokens").GetInt64());
            return cost;
        });
        Assert.Equal(10_000 - served.Count * cost, await b.BalanceMicrosAsync(account));
        foreach (var gw in new[] { a, b })
            Assert.Null(MetricsText.Value(await gw.Http.GetStringAsync("/metrics"), "tokengateway_hold_overruns_total", ("account", account), ("model", "gpt-4o")));
    }

    [Fact]
    public async Task UpstreamBillingBeyondTheBound_IsChargedInFull_CountedAndLoggedAsAnError()
    {
        var logs = new LogCapture();
        await using var gw = await GatewayHost.StartAsync(redis, logs: logs);
        var account = "over-" + Guid.NewGuid().ToString("N")[..8];
        var key = await gw.FundedKeyAsync(account, 10m);
        // Not text the body shows (a stored conversation, a tool's results): 1,000 input tokens more than the bound of 65.
        gw.Upstream.Options.PromptTokens = (int)Bound(WithLimit) + 1000;
        gw.Upstream.Options.CompletionTokens = 12;

        var r = await gw.PostAsync(key, "/v1/chat/completions", WithLimit);

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        // Exactness first: 1,065 × 2.5 + 12 × 10 = 2,782.5 → 2,783 µ$, though the hold was 163 + 120 = 283.
        Assert.Equal(10_000_000 - 2783, await gw.BalanceMicrosAsync(account));
        string text = "";
        for (var i = 0; i < 100; i++, await Task.Delay(50))
        {
            text = await gw.Http.GetStringAsync("/metrics");
            if (MetricsText.Value(text, "tokengateway_hold_overruns_total", ("account", account), ("model", "gpt-4o")) is not null) break;
        }
        Assert.Equal(1, MetricsText.Value(text, "tokengateway_hold_overruns_total", ("account", account), ("model", "gpt-4o")));
        var error = Assert.Single(logs.Entries, e => e.EventId.Id == 204);
        Assert.Equal(LogLevel.Error, error.Level);
        Assert.Contains("1065 input tokens reported for a bound of 65", error.Message);
        Assert.Contains("charged 2783 micro-USD for a hold of 283", error.Message);
    }

    private static HttpClient Client(GatewayHost gw) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 300 }) { BaseAddress = new Uri(gw.BaseUrl) };

    private static async Task<(HttpStatusCode Status, string? RequestId)> SendAsync(HttpClient client, string key, string body, CancellationToken cancel)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", key);
        using var response = await client.SendAsync(request, cancel);
        return (response.StatusCode, response.Headers.TryGetValues("x-tokengateway-request-id", out var ids) ? ids.Single() : null);
    }
}
