using System.Net;
using System.Net.Http.Json;
using TokenGateway.Tests.Infrastructure;
using TokenGateway.Tests.Telemetry;

namespace TokenGateway.Tests.Billing;

/// <summary>Threshold alerts (percentages of a monthly limit) and the low-balance alert: exactly one event per crossing under concurrency.</summary>
public sealed class AlertTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private WebhookReceiver _hooks = null!;
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _hooks = await WebhookReceiver.StartAsync();
        _gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string>
        {
            ["Billing:MinimumTopUpUsd"] = "0.01",
            ["Billing:Webhooks:Url"] = _hooks.BaseUrl + "/notify",
            ["Billing:Webhooks:Secret"] = WebhookReceiver.Secret,
        });
        // gpt-4o: 40 input tokens at $2.50/M + 1,000 output at $10/M = 10,100 micro-USD a request.
        _gw.Upstream.Options.PromptTokens = 40;
        _gw.Upstream.Options.CompletionTokens = 1000;
    }

    public async Task DisposeAsync()
    {
        await _gw.DisposeAsync();
        await _hooks.DisposeAsync();
    }

    [Fact]
    public async Task HundredConcurrentRequests_Crossing50And80Percent_RaiseExactlyOneEventEach_AndBalanceLowOnce()
    {
        var account = "alerts-" + Guid.NewGuid().ToString("N")[..8];
        var key = await _gw.FundedKeyAsync(account, 0.3m);
        await _gw.PutAsync($"/admin/accounts/{account}/limits", new { hard_limit_usd = 0.2 });
        await _gw.PutAsync($"/admin/accounts/{account}/alerts", new { thresholds_percent = new[] { 80, 50 }, low_balance_usd = 0.2 });
        // The default project: a soft limit and no hard limit, so its 50 % is of the soft limit ($0.05).
        await _gw.PutAsync($"/admin/accounts/{account}/projects/default/limits", new { soft_limit_usd = 0.1 });
        await _gw.PutAsync($"/admin/accounts/{account}/projects/default/alerts", new { thresholds_percent = new[] { 50 } });

        var statuses = await _gw.ChatManyAsync(key, 100);

        // The hard limit ($0.2) admits at most 19 of 10,100 µ$ (holds of ~10,200), enough to cross 50 % and 80 % of it,
        // $0.1 of the project's and $0.1 of balance ($0.3 → under $0.2).
        var ok = statuses.Count(s => s == HttpStatusCode.OK);
        Assert.InRange(ok, 17, 19);
        bool Mine(WebhookReceiver.Delivery d) => d.Json.GetProperty("account_id").GetString() == account;
        var received = await _hooks.WaitForAsync(r => r.Count(Mine) >= 5);
        var events = received.Where(Mine).ToList();
        Assert.All(events, d => Assert.True(WebhookReceiver.IsValidlySigned(d)));
        Assert.Equal(["balance.low", "budget.threshold_crossed", "budget.threshold_crossed", "budget.threshold_crossed", "soft_limit.crossed"],
            events.Select(d => d.Type).Order(StringComparer.Ordinal));
        var thresholds = events.Where(d => d.Type == "budget.threshold_crossed").Select(d => d.Json.GetProperty("data")).ToList();
        var accountWide = thresholds.Where(d => !d.TryGetProperty("project_id", out _)).OrderBy(d => d.GetProperty("percent").GetInt32()).ToList();
        Assert.Equal([50, 80], accountWide.Select(d => d.GetProperty("percent").GetInt32()));
        Assert.All(accountWide, d => Assert.Equal("hard_limit", d.GetProperty("limit").GetString()));
        Assert.Equal([100_000L, 160_000L], accountWide.Select(d => d.GetProperty("threshold_micros").GetInt64()));
        // Raised by the debit that reached it: the month's spend is at the threshold or less than one request past it.
        Assert.All(accountWide, d => Assert.InRange(d.GetProperty("month_spend_micros").GetInt64(), d.GetProperty("threshold_micros").GetInt64(), d.GetProperty("threshold_micros").GetInt64() + 10_099));
        var project = Assert.Single(thresholds, d => d.TryGetProperty("project_id", out _));
        Assert.Equal("default", project.GetProperty("project_id").GetString());
        Assert.Equal("soft_limit", project.GetProperty("limit").GetString());
        Assert.Equal(50_000, project.GetProperty("threshold_micros").GetInt64());
        var low = events.Single(d => d.Type == "balance.low").Json.GetProperty("data");
        Assert.Equal(0.2m, low.GetProperty("threshold_usd").GetDecimal());
        Assert.InRange(low.GetProperty("balance_micros").GetInt64(), 200_000 - 10_100, 199_999);

        var metrics = await _gw.Http.GetStringAsync("/metrics");
        Assert.Equal(3, MetricsText.Value(metrics, "tokengateway_billing_notifications_total", ("account", account), ("kind", "budget.threshold_crossed")));
        Assert.Equal(1, MetricsText.Value(metrics, "tokengateway_billing_notifications_total", ("account", account), ("kind", "balance.low")));

        // Shown on the account; bad percentages are refused.
        var alerts = (await _gw.GetAccountAsync(account)).GetProperty("alerts");
        Assert.Equal([50, 80], alerts.GetProperty("thresholds_percent").EnumerateArray().Select(p => p.GetInt32()));
        Assert.Equal(HttpStatusCode.BadRequest, (await _gw.Admin.PutAsJsonAsync($"/admin/accounts/{account}/alerts", new { thresholds_percent = new[] { 0 } })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _gw.Admin.PutAsJsonAsync($"/admin/accounts/{account}/alerts", new { low_balance_usd = -1 })).StatusCode);
    }
}
