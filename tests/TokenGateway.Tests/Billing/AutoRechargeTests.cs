using System.Net;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Billing;

/// <summary>Auto-recharge: once per threshold crossing under concurrency, capped per month, approved or refused by the funding webhook.</summary>
public sealed class AutoRechargeTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private WebhookReceiver _hooks = null!;
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _hooks = await WebhookReceiver.StartAsync();
        _hooks.Respond = (path, _) => path == "/funding" ? 200 : 204;
        _gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string>
        {
            ["Billing:Webhooks:Url"] = _hooks.BaseUrl + "/notify",
            ["Billing:Webhooks:FundingUrl"] = _hooks.BaseUrl + "/funding",
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

    private async Task<(string Account, string Key)> AccountAsync(decimal balanceUsd, object autoRecharge)
    {
        var account = "recharge-" + Guid.NewGuid().ToString("N")[..8];
        var key = await _gw.FundedKeyAsync(account, balanceUsd);
        await _gw.PutAsync($"/admin/accounts/{account}/auto-recharge", autoRecharge);
        return (account, key);
    }

    private async Task<List<JsonElement>> RechargeGrantsAsync(string account) =>
        [.. (await _gw.LedgerAsync(account)).Where(e => e.GetProperty("type").GetString() == "grant" && e.GetProperty("source").GetString() == "auto_recharge")];

    private IEnumerable<WebhookReceiver.Delivery> For(IEnumerable<WebhookReceiver.Delivery> received, string account, string path) =>
        received.Where(d => d.Path == path && d.Json.GetProperty("account_id").GetString() == account);

    private async Task AssertLedgerSumsToBalanceAsync(string account)
    {
        var balance = await _gw.BalanceMicrosAsync(account);
        Assert.Equal(balance, (await _gw.LedgerAsync(account, pageSize: 16)).Sum(e => e.GetProperty("amount_micros").GetInt64()));
    }

    [Fact]
    public async Task Internal_100ConcurrentSettlesCrossingTheThreshold_RechargeExactlyOnce()
    {
        var (account, key) = await AccountAsync(5.5m, new { enabled = true, threshold_usd = 5, amount_usd = 10, monthly_limit_usd = 100, mode = "internal" });

        var statuses = await _gw.ChatManyAsync(key, 100);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        var grant = Assert.Single(await RechargeGrantsAsync(account));
        Assert.Equal(10_000_000, grant.GetProperty("amount_micros").GetInt64());
        Assert.Equal(5_500_000 + 10_000_000 - 100 * 10_100, await _gw.BalanceMicrosAsync(account));
        var recharge = (await _gw.GetAccountAsync(account)).GetProperty("auto_recharge");
        Assert.Equal(10m, recharge.GetProperty("month_recharged_usd").GetDecimal());
        await AssertLedgerSumsToBalanceAsync(account);
        // Recorded for chargeback: the notification says what was granted.
        var received = await _hooks.WaitForAsync(r => For(r, account, "/notify").Any());
        var notice = Assert.Single(For(received, account, "/notify"));
        Assert.Equal("auto_recharge.succeeded", notice.Type);
        Assert.Equal("internal", notice.Json.GetProperty("data").GetProperty("mode").GetString());
        Assert.Empty(For(received, account, "/funding"));
    }

    [Fact]
    public async Task MonthlyRechargeLimit_StopsRecharges_AndManualTopUpsDoNotCountTowardIt()
    {
        // $20 of manual top-ups this month: were they counted, even the first $10 recharge would break the $24 limit.
        var (account, key) = await AccountAsync(20m, new { enabled = true, threshold_usd = 5, amount_usd = 10, monthly_limit_usd = 24, mode = "internal" });
        _gw.Upstream.Options.PromptTokens = 2_400_000; // 6,000,010 micro-USD a request

        // Balance (USD, roughly): 20 → 14 → 8 → 2 +10 → 6 → 0 +10 → 4 (crossing; a third $10 would make $30 > $24, and the
        // $4 left of the limit is below the $5 minimum top-up, so nothing is granted).
        for (var i = 0; i < 6; i++) Assert.Equal(HttpStatusCode.OK, (await _gw.ChatManyAsync(key, 1, maxTokens: 1))[0]);

        Assert.Equal(2, (await RechargeGrantsAsync(account)).Count);
        Assert.Equal(20_000_000 + 20_000_000 - 6 * 6_000_010, await _gw.BalanceMicrosAsync(account));
        await _gw.AddCreditsAsync(account, 100m);
        var recharge = (await _gw.GetAccountAsync(account)).GetProperty("auto_recharge");
        Assert.Equal(20_000_000, recharge.GetProperty("month_recharged_micros").GetInt64());
        var received = await _hooks.WaitForAsync(r => For(r, account, "/notify").Count() >= 3);
        Assert.Equal(["auto_recharge.limit_reached", "auto_recharge.succeeded", "auto_recharge.succeeded"],
            For(received, account, "/notify").Select(d => d.Type).Order(StringComparer.Ordinal));
        await AssertLedgerSumsToBalanceAsync(account);
    }

    [Fact]
    public async Task TargetBalance_100ConcurrentSettles_RechargeOnceToTheTarget()
    {
        var (account, key) = await AccountAsync(5.5m, new { enabled = true, threshold_usd = 5, target_balance_usd = 20, monthly_limit_usd = 100, mode = "internal" });

        Assert.All(await _gw.ChatManyAsync(key, 100), s => Assert.Equal(HttpStatusCode.OK, s));

        // The 50th debit takes $5.50 to $4.995: the recharge is what lifts that to $20, $15.005.
        var grant = Assert.Single(await RechargeGrantsAsync(account));
        Assert.Equal(15_005_000, grant.GetProperty("amount_micros").GetInt64());
        Assert.Equal(20_000_000, grant.GetProperty("balance_micros").GetInt64());
        Assert.Equal(5_500_000 + 15_005_000 - 100 * 10_100, await _gw.BalanceMicrosAsync(account));
        var shown = (await _gw.GetAccountAsync(account)).GetProperty("auto_recharge");
        Assert.Equal(20m, shown.GetProperty("target_balance_usd").GetDecimal());
        Assert.Equal(15_005_000, shown.GetProperty("month_recharged_micros").GetInt64());
        var received = await _hooks.WaitForAsync(r => For(r, account, "/notify").Any());
        var data = Assert.Single(For(received, account, "/notify")).Json.GetProperty("data");
        Assert.Equal(20m, data.GetProperty("target_balance_usd").GetDecimal());
        await AssertLedgerSumsToBalanceAsync(account);
    }

    [Fact]
    public async Task MonthlyRechargeLimit_GrantsOnlyTheRemainder_WhenItIsAtLeastTheMinimumTopUp()
    {
        var (account, key) = await AccountAsync(20m, new { enabled = true, threshold_usd = 5, amount_usd = 10, monthly_limit_usd = 25, mode = "internal" });
        _gw.Upstream.Options.PromptTokens = 2_400_000; // 6,000,010 micro-USD a request

        // Balance (USD, roughly): 20 → 14 → 8 → 2 +10 → 6 → 0 +10 → 4 (crossing: $10 would make $30 > $25; the $5 left is
        // the minimum top-up, so $5 is granted) → 9.
        for (var i = 0; i < 6; i++) Assert.Equal(HttpStatusCode.OK, (await _gw.ChatManyAsync(key, 1, maxTokens: 1))[0]);

        Assert.Equal([10_000_000L, 10_000_000, 5_000_000], (await RechargeGrantsAsync(account)).Select(g => g.GetProperty("amount_micros").GetInt64()));
        Assert.Equal(20_000_000 + 25_000_000 - 6 * 6_000_010, await _gw.BalanceMicrosAsync(account));
        Assert.Equal(25_000_000, (await _gw.GetAccountAsync(account)).GetProperty("auto_recharge").GetProperty("month_recharged_micros").GetInt64());
        var received = await _hooks.WaitForAsync(r => For(r, account, "/notify").Count() >= 3);
        var notices = For(received, account, "/notify").ToList();
        Assert.All(notices, n => Assert.Equal("auto_recharge.succeeded", n.Type));
        var partial = Assert.Single(notices, n => n.Json.GetProperty("data").TryGetProperty("partial", out _)).Json.GetProperty("data");
        Assert.Equal(5m, partial.GetProperty("amount_usd").GetDecimal());
        Assert.Equal(10m, partial.GetProperty("requested_usd").GetDecimal());

        // The limit is used up: the next crossing raises auto_recharge.limit_reached and grants nothing.
        for (var i = 0; i < 1; i++) Assert.Equal(HttpStatusCode.OK, (await _gw.ChatManyAsync(key, 1, maxTokens: 1))[0]);
        Assert.Equal(3, (await RechargeGrantsAsync(account)).Count);
        received = await _hooks.WaitForAsync(r => For(r, account, "/notify").Count() >= 4);
        Assert.Equal("auto_recharge.limit_reached", For(received, account, "/notify").Last().Type);
        await AssertLedgerSumsToBalanceAsync(account);
    }

    [Fact]
    public async Task WebhookMode_Approved_GrantsOnce_EvenWhen100ConcurrentSettlesCross()
    {
        var (account, key) = await AccountAsync(5.5m, new { enabled = true, threshold_usd = 5, amount_usd = 10, monthly_limit_usd = 100, mode = "webhook" });

        await _gw.ChatManyAsync(key, 100);

        var received = await _hooks.WaitForAsync(r => For(r, account, "/notify").Any());
        var request = Assert.Single(For(received, account, "/funding"));
        Assert.Equal("auto_recharge.requested", request.Type);
        Assert.True(WebhookReceiver.IsValidlySigned(request));
        Assert.Equal(10m, request.Json.GetProperty("data").GetProperty("amount_usd").GetDecimal());
        Assert.Equal("auto_recharge.succeeded", Assert.Single(For(received, account, "/notify")).Type);
        var grant = Assert.Single(await RechargeGrantsAsync(account));
        Assert.Equal("webhook", grant.GetProperty("mode").GetString());
        Assert.Equal(5_500_000 + 10_000_000 - 100 * 10_100, await _gw.BalanceMicrosAsync(account));
        await AssertLedgerSumsToBalanceAsync(account);
    }

    [Fact]
    public async Task WebhookMode_Refused_GrantsNothing_Notifies_AndFreesTheMonthlyLimit()
    {
        _hooks.Respond = (path, _) => path == "/funding" ? 402 : 204;
        var (account, key) = await AccountAsync(5.5m, new { enabled = true, threshold_usd = 5, amount_usd = 10, monthly_limit_usd = 100, mode = "webhook" });

        await _gw.ChatManyAsync(key, 100);

        var received = await _hooks.WaitForAsync(r => For(r, account, "/notify").Any());
        Assert.Single(For(received, account, "/funding"));
        var notice = Assert.Single(For(received, account, "/notify"));
        Assert.Equal("auto_recharge.failed", notice.Type);
        Assert.Contains("HTTP 402", notice.Json.GetProperty("data").GetProperty("reason").GetString());
        Assert.Empty(await RechargeGrantsAsync(account));
        Assert.Equal(5_500_000 - 100 * 10_100, await _gw.BalanceMicrosAsync(account));
        Assert.Equal(0, (await _gw.GetAccountAsync(account)).GetProperty("auto_recharge").GetProperty("month_recharged_micros").GetInt64());
        await AssertLedgerSumsToBalanceAsync(account);
    }

    [Fact]
    public async Task Settings_AreValidated_AndShownOnTheAccount()
    {
        var account = "recharge-cfg-" + Guid.NewGuid().ToString("N")[..6];
        await _gw.CreateAccountAsync(account);
        async Task<HttpStatusCode> Put(object body) => (await _gw.Admin.PutAsync($"/admin/accounts/{account}/auto-recharge",
            System.Net.Http.Json.JsonContent.Create(body))).StatusCode;

        Assert.Equal(HttpStatusCode.BadRequest, await Put(new { enabled = true, threshold_usd = 5, amount_usd = 1, monthly_limit_usd = 50, mode = "internal" })); // below the $5 minimum top-up
        Assert.Equal(HttpStatusCode.BadRequest, await Put(new { enabled = true, threshold_usd = 5, amount_usd = 10, monthly_limit_usd = 5, mode = "internal" })); // limit below one recharge
        Assert.Equal(HttpStatusCode.BadRequest, await Put(new { enabled = true, threshold_usd = 5, amount_usd = 10, monthly_limit_usd = 50, mode = "card" }));
        Assert.Equal(JsonValueKind.Null, (await _gw.GetAccountAsync(account)).GetProperty("auto_recharge").ValueKind);
        Assert.Equal(HttpStatusCode.NotFound, (await _gw.Admin.PutAsync("/admin/accounts/nobody-here/auto-recharge",
            System.Net.Http.Json.JsonContent.Create(new { enabled = true, threshold_usd = 5, amount_usd = 10, monthly_limit_usd = 50, mode = "internal" }))).StatusCode);

        Assert.Equal(HttpStatusCode.OK, await Put(new { enabled = true, threshold_usd = 5, amount_usd = 10, monthly_limit_usd = 50, mode = "webhook" }));
        var shown = (await _gw.GetAccountAsync(account)).GetProperty("auto_recharge");
        Assert.True(shown.GetProperty("enabled").GetBoolean());
        Assert.Equal(50m, shown.GetProperty("monthly_limit_usd").GetDecimal());
        Assert.Equal("webhook", shown.GetProperty("mode").GetString());
    }
}
