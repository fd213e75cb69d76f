using System.Net;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Telemetry;

/// <summary>
/// Two gateways in one process (as the tests run them, each with its own <c>TokenGateway</c> meter): each
/// /metrics shows only what its own host recorded.
/// </summary>
public sealed class MetricsIsolationTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Chat = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}""";

    [Fact]
    public async Task TwoGatewaysInOneProcess_EachMetricsShowsOnlyItsOwnAccountsSeries()
    {
        await using var first = await GatewayHost.StartAsync(redis);
        await using var second = await GatewayHost.StartAsync(redis);
        var (a, b) = ("acct-" + Guid.NewGuid().ToString("N")[..8], "acct-" + Guid.NewGuid().ToString("N")[..8]);
        var keyA = await first.FundedKeyAsync(a);
        var keyB = await second.FundedKeyAsync(b);

        Assert.Equal(HttpStatusCode.OK, (await first.PostAsync(keyA, "/v1/chat/completions", Chat)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.PostAsync(keyB, "/v1/chat/completions", Chat)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.PostAsync(keyB, "/v1/chat/completions", Chat)).StatusCode);

        var textA = await WaitForRequestsAsync(first, a, 1);
        var textB = await WaitForRequestsAsync(second, b, 2);
        Assert.DoesNotContain(b, textA);
        Assert.DoesNotContain(a, textB);
        // Both share one Redis: the accounts exist for both, yet each counts only the requests it served.
        Assert.Null(RequestsOk(textA, b));
        Assert.Null(RequestsOk(textB, a));
    }

    private static double? RequestsOk(string text, string account) =>
        MetricsText.Value(text, "tokengateway_requests_total", ("account", account), ("model", "gpt-4o-mini"), ("outcome", "ok"));

    private static async Task<string> WaitForRequestsAsync(GatewayHost gw, string account, int count)
    {
        var text = "";
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            text = await gw.Http.GetStringAsync("/metrics");
            if (RequestsOk(text, account) == count) return text;
        }
        Assert.Fail($"/metrics never counted {count} requests of {account}:\n{text}");
        return text;
    }
}
