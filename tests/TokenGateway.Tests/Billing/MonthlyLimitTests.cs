using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;
using TokenGateway.Tests.Telemetry;

namespace TokenGateway.Tests.Billing;

/// <summary>Monthly (UTC) hard and soft limits, under concurrency and across a month boundary.</summary>
public sealed class MonthlyLimitTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private const long RequestCost = 40 * 25 / 10 + 1000 * 10; // gpt-4o: 40 input tokens at $2.50/M + 1,000 output at $10/M = 10,100 micro-USD.
    private const long Overdraft = 50_000;
    private static readonly DateTimeOffset November = new(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _clock = new(November);
    private WebhookReceiver _hooks = null!;
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _hooks = await WebhookReceiver.StartAsync();
        _gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string>
        {
            ["Billing:OverdraftUsd"] = "0.05",
            ["Billing:Webhooks:Url"] = _hooks.BaseUrl + "/notify",
            ["Billing:Webhooks:Secret"] = WebhookReceiver.Secret,
        }, _clock);
        _gw.Upstream.Options.PromptTokens = 40;
        _gw.Upstream.Options.CompletionTokens = 1000;
    }

    public async Task DisposeAsync()
    {
        await _gw.DisposeAsync();
        await _hooks.DisposeAsync();
    }

    private async Task<(string Account, string Key)> AccountAsync(object limits)
    {
        var account = "limits-" + Guid.NewGuid().ToString("N")[..8];
        var key = await _gw.FundedKeyAsync(account, 100m);
        await _gw.PutAsync($"/admin/accounts/{account}/limits", limits);
        return (account, key);
    }

    private async Task<long> MonthSpendAsync(string account) => (await _gw.GetAccountAsync(account)).GetProperty("month_spend_micros").GetInt64();

    [Fact]
    public async Task HardLimit_RefusesTheRequestThatWouldCrossIt_AndTheNextMonthFlowsAgain()
    {
        var (account, key) = await AccountAsync(new { hard_limit_usd = 0.1 });

        var statuses = await _gw.ChatManyAsync(key, 100);

        var ok = statuses.Count(s => s == HttpStatusCode.OK);
        Assert.Equal(100, ok + statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        var spend = await MonthSpendAsync(account);
        Assert.Equal(ok * RequestCost, spend);
        Assert.True(spend <= 100_000 + Overdraft, $"month spend {spend} exceeds the hard limit by more than the overdraft");
        Assert.InRange(ok, 1, 9);
        using var refused = await _gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o","max_tokens":1000,"messages":[{"role":"user","content":"go"}]}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("organization_spend_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Equal("insufficient_quota", error.GetProperty("type").GetString());
        Assert.Equal("false", refused.Headers.GetValues("x-should-retry").Single());
        Assert.Contains("monthly hard limit", error.GetProperty("message").GetString());

        _clock.SetUtcNow(new DateTimeOffset(2026, 12, 1, 0, 0, 1, TimeSpan.Zero));
        Assert.All(await _gw.ChatManyAsync(key, 3), s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(3 * RequestCost, await MonthSpendAsync(account));
    }

    [Fact]
    public async Task SoftLimit_SendsOneSignedWebhookPerMonth_EvenWhen100ConcurrentRequestsCrossIt()
    {
        var (account, key) = await AccountAsync(new { soft_limit_usd = 0.05 });

        var statuses = await _gw.ChatManyAsync(key, 100);
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s)); // a soft limit never refuses traffic

        var received = await _hooks.WaitForAsync(r => r.Any(d => d.Json.GetProperty("account_id").GetString() == account));
        var delivery = Assert.Single(received, d => d.Json.GetProperty("account_id").GetString() == account);
        Assert.Equal("/notify", delivery.Path);
        Assert.Equal("soft_limit.crossed", delivery.Type);
        Assert.True(WebhookReceiver.IsValidlySigned(delivery), "signature does not verify");
        Assert.Equal($"{account}/soft_limit:202611", delivery.Headers["TokenGateway-Event-Id"]);
        var data = delivery.Json.GetProperty("data");
        Assert.Equal("202611", data.GetProperty("month").GetString());
        Assert.Equal(0.05m, data.GetProperty("soft_limit_usd").GetDecimal());
        Assert.InRange(data.GetProperty("month_spend_micros").GetInt64(), 50_000, 50_000 + RequestCost - 1);
        Assert.Equal(1, await NotificationsMetricAsync(account));

        // December: the spend starts from zero, and crossing again notifies again, once.
        _clock.SetUtcNow(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));
        Assert.All(await _gw.ChatManyAsync(key, 20), s => Assert.Equal(HttpStatusCode.OK, s));
        received = await _hooks.WaitForAsync(r => r.Count(d => d.Json.GetProperty("account_id").GetString() == account) >= 2);
        var months = received.Where(d => d.Json.GetProperty("account_id").GetString() == account)
            .Select(d => d.Json.GetProperty("data").GetProperty("month").GetString()).ToList();
        Assert.Equal(["202611", "202612"], months);
        Assert.Equal(2, await NotificationsMetricAsync(account));
    }

    [Fact]
    public async Task Webhook_FailingReceiver_IsRetriedWithBackoff_WithTheSameEventId()
    {
        // Real time here: retries wait for the clock, and this test's clock must move on its own.
        await using var hooks = await WebhookReceiver.StartAsync();
        hooks.Respond = (_, earlier) => earlier < 2 ? 500 : 204;
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string>
        {
            ["Billing:Webhooks:Url"] = hooks.BaseUrl + "/notify",
            ["Billing:Webhooks:Secret"] = WebhookReceiver.Secret,
            ["Billing:Webhooks:RetryBaseMilliseconds"] = "200",
        });
        var account = "retry-" + Guid.NewGuid().ToString("N")[..8];
        var key = await gw.FundedKeyAsync(account, 10m);
        await gw.PutAsync($"/admin/accounts/{account}/limits", new { soft_limit_usd = 0 });

        await gw.ChatManyAsync(key, 1);

        var received = await hooks.WaitForAsync(r => r.Count >= 3);
        Assert.Equal(3, received.Count);
        Assert.Single(received.Select(d => d.Headers["TokenGateway-Event-Id"]).Distinct());
        Assert.Equal([1, 2, 3], received.Select(d => d.Json.GetProperty("attempt").GetInt32()));
        Assert.All(received, d => Assert.True(WebhookReceiver.IsValidlySigned(d)));
        // Backoff doubles from the base: at least 200 ms, then at least 400 ms between attempts.
        Assert.True(received[1].ReceivedAt - received[0].ReceivedAt >= TimeSpan.FromMilliseconds(180));
        Assert.True(received[2].ReceivedAt - received[1].ReceivedAt >= TimeSpan.FromMilliseconds(380));
    }

    /// <summary>The soft-limit notifications of one account, as Prometheus scrapes them from /metrics.</summary>
    private async Task<double?> NotificationsMetricAsync(string account) =>
        MetricsText.Value(await _gw.Http.GetStringAsync("/metrics"), "tokengateway_billing_notifications_total", ("account", account), ("kind", "soft_limit.crossed"));
}
