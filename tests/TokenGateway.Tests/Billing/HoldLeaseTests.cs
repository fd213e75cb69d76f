using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TokenGateway.Pricing;
using TokenGateway.Metering;
using Microsoft.Extensions.DependencyInjection;
using TokenGateway.Billing;
using TokenGateway.Keys;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Billing;

public sealed class HoldLeaseTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task HoldOfACrashedRequest_IsReleasedAfterItsTtl()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero));
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Metering:HoldTtlSeconds"] = "60" }, clock);
        var account = "lease-" + Guid.NewGuid().ToString("N")[..6];
        var key = await gw.FundedKeyAsync(account, 5m);
        var keyRef = (await gw.Services.GetRequiredService<KeyStore>().FindAsync(GatewayKeySecret.Hash(key)))!.Value;

        // A gateway reserves, then dies before settling: nothing but the hold is left behind.
        var billing = gw.Services.GetRequiredService<BillingStore>();
        var reserved = await billing.ReserveAsync(new ReserveRequest(account, keyRef.KeyId, GatewayKeySecret.Hash(key), "req_crashed", "gpt-4o",
            InputCostMicros: 1000, OutputPicosPerToken: 10_000_000, MaxOutputTokens: 400_000, Choices: 1, ExplicitOutputLimit: true));
        Assert.Equal(ReserveStatus.Reserved, reserved.Status);
        Assert.Equal(4_001_000, await gw.HeldMicrosAsync(account));

        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(4_001_000, await gw.HeldMicrosAsync(account));

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, await gw.HeldMicrosAsync(account));
        Assert.Equal(5_000_000, await gw.BalanceMicrosAsync(account));
        Assert.Single(await gw.LedgerAsync(account));

        // A settle arriving after the lease ended still charges what was used, once.
        var settled = await billing.SettleAsync(new SettleRequest(account, keyRef.KeyId, "req_crashed", "gpt-4o", new Charge(1234, []), new TokenUsage(10, 0, 100)));
        var again = await billing.SettleAsync(new SettleRequest(account, keyRef.KeyId, "req_crashed", "gpt-4o", new Charge(1234, []), new TokenUsage(10, 0, 100)));
        Assert.False(settled.AlreadySettled);
        Assert.True(again.AlreadySettled);
        Assert.Equal(5_000_000 - 1234, await gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task LeaseRenewedByHeartbeats_AndAtItsEnd_ChargedTheRecordedConsumption_ALateSettleOnlyTheRest()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero));
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Metering:HoldTtlSeconds"] = "60", ["Metering:HeartbeatSeconds"] = "20" }, clock);
        var account = "beat-" + Guid.NewGuid().ToString("N")[..6];
        var key = await gw.FundedKeyAsync(account, 5m);
        var keyRef = (await gw.Services.GetRequiredService<KeyStore>().FindAsync(GatewayKeySecret.Hash(key)))!.Value;
        var billing = gw.Services.GetRequiredService<BillingStore>();
        var reserved = await billing.ReserveAsync(new ReserveRequest(account, keyRef.KeyId, GatewayKeySecret.Hash(key), "req_beat", "gpt-4o",
            InputCostMicros: 1000, OutputPicosPerToken: 10_000_000, MaxOutputTokens: 1000, Choices: 1, ExplicitOutputLimit: true));
        Assert.Equal(11_000, reserved.HoldMicros);
        var consumed = new HeldConsumption("req_beat", "gpt-4o", new Charge(700, [new LineItem("output", 50, 10_000_000m)]), new TokenUsage(10, 0, 50), TimeSpan.FromMinutes(2));

        // Beats at 0 s and 50 s: the lease (60 s) is renewed to 110 s, so at 100 s the hold is still there.
        Assert.Equal(1, await billing.HeartbeatAsync(account, [consumed]));
        clock.Advance(TimeSpan.FromSeconds(50));
        Assert.Equal(1, await billing.HeartbeatAsync(account, [consumed]));
        clock.Advance(TimeSpan.FromSeconds(50));
        Assert.Equal(11_000, await gw.HeldMicrosAsync(account));

        // No beat after 50 s (the replica died): at 111 s the hold is charged the record, 700 µ$, not released.
        clock.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(0, await gw.HeldMicrosAsync(account));
        Assert.Equal(5_000_000 - 700, await gw.BalanceMicrosAsync(account));
        var debit = Assert.Single(await gw.LedgerAsync(account), e => e.GetProperty("type").GetString() == "debit");
        Assert.Equal("req_beat", debit.GetProperty("request_id").GetString());
        Assert.Equal("1", debit.GetProperty("lease_expired").GetString());
        Assert.Equal(50, debit.GetProperty("output_tokens").GetInt64());
        Assert.Equal(-700, debit.GetProperty("amount_micros").GetInt64());
        // A beat for a hold that is gone brings nothing back.
        Assert.Equal(0, await billing.HeartbeatAsync(account, [consumed]));
        Assert.Equal(0, await gw.HeldMicrosAsync(account));

        // The replica was only cut off: its settle (1,234 µ$) comes after all and charges the 534 the lease left out, once.
        var late = new SettleRequest(account, keyRef.KeyId, "req_beat", "gpt-4o", new Charge(1234, []), new TokenUsage(10, 0, 100));
        Assert.False((await billing.SettleAsync(late)).AlreadySettled);
        Assert.True((await billing.SettleAsync(late)).AlreadySettled);
        Assert.Equal(5_000_000 - 1234, await gw.BalanceMicrosAsync(account));
        var ledger = await gw.LedgerAsync(account);
        Assert.Equal(await gw.BalanceMicrosAsync(account), ledger.Sum(e => e.GetProperty("amount_micros").GetInt64()));
    }

    [Fact]
    public async Task LeaseCharge_CountsInTheUsageReportsAndCosts_AndRaisesItsThresholdOnce_ALateSettleCountsOnlyTheRest()
    {
        var start = new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(start);
        await using var hooks = await WebhookReceiver.StartAsync();
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string>
        {
            ["Metering:HoldTtlSeconds"] = "60",
            ["Billing:SweepSeconds"] = "1",
            ["Billing:Webhooks:Url"] = hooks.BaseUrl + "/notify",
            ["Billing:Webhooks:Secret"] = WebhookReceiver.Secret,
        }, clock);
        var account = "leaseuse-" + Guid.NewGuid().ToString("N")[..6];
        var key = await gw.FundedKeyAsync(account, 5m);
        var keyRef = (await gw.Services.GetRequiredService<KeyStore>().FindAsync(GatewayKeySecret.Hash(key)))!.Value;
        // 50 % of a $0.02 hard limit: 10,000 µ$, crossed by the lease's charge alone.
        await gw.PutAsync($"/admin/accounts/{account}/limits", new { hard_limit_usd = 0.02 });
        await gw.PutAsync($"/admin/accounts/{account}/alerts", new { thresholds_percent = new[] { 50, 80 } });
        var billing = gw.Services.GetRequiredService<BillingStore>();
        var reserved = await billing.ReserveAsync(new ReserveRequest(account, keyRef.KeyId, GatewayKeySecret.Hash(key), "req_leaseuse", "gpt-4o",
            InputCostMicros: 1000, OutputPicosPerToken: 10_000_000, MaxOutputTokens: 1000, Choices: 1, ExplicitOutputLimit: true));
        Assert.Equal(11_000, reserved.HoldMicros);

        // The last beat records 400 input tokens (1,000 µ$) and 950 output tokens streamed (9,500 µ$); then the replica dies.
        var consumed = new HeldConsumption("req_leaseuse", "gpt-4o",
            new Charge(10_500, [new LineItem("input", 400, 2_500_000m), new LineItem("output", 950, 10_000_000m)]), new TokenUsage(400, 0, 950), TimeSpan.FromMinutes(5));
        Assert.Equal(1, await billing.HeartbeatAsync(account, [consumed]));
        clock.Advance(TimeSpan.FromSeconds(61));

        // The sweep charges the lease and delivers the threshold it crossed: exactly one event, 50 % and not 80 %.
        bool Mine(WebhookReceiver.Delivery d) => d.Json.GetProperty("account_id").GetString() == account;
        var events = (await hooks.WaitForAsync(r => r.Any(Mine), TimeSpan.FromSeconds(2))).Where(Mine).ToList();
        var crossed = Assert.Single(events);
        Assert.Equal("budget.threshold_crossed", crossed.Type);
        Assert.Equal(50, crossed.Json.GetProperty("data").GetProperty("percent").GetInt32());
        Assert.Equal(10_500, crossed.Json.GetProperty("data").GetProperty("month_spend_micros").GetInt64());
        Assert.Equal(5_000_000 - 10_500, await gw.BalanceMicrosAsync(account));

        async Task<JsonElement> Report() => Assert.Single((await gw.Admin.GetFromJsonAsync<JsonElement>(
            $"/admin/accounts/{account}/usage?from=2026-11-21&to=2026-11-21&group_by=model")).GetProperty("data").EnumerateArray());
        async Task<JsonElement> Org(string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new("Bearer", GatewayHost.AdminToken);
            request.Headers.Add("OpenAI-Organization", account);
            using var response = await gw.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadFromJsonAsync<JsonElement>();
        }
        var day = start.ToUnixTimeSeconds();
        async Task<List<JsonElement>> Completions(string width) =>
            [.. (await Org($"/v1/organization/usage/completions?start_time={day}&end_time={day + 3600}&bucket_width={width}&limit={(width == "1m" ? 60 : 1)}"))
                .GetProperty("data").EnumerateArray().SelectMany(b => b.GetProperty("results").EnumerateArray())];
        async Task<decimal> Costs() => (await Org($"/v1/organization/costs?start_time={day - 12 * 3600}&limit=1"))
            .GetProperty("data").EnumerateArray().SelectMany(b => b.GetProperty("results").EnumerateArray()).Sum(r => r.GetProperty("amount").GetProperty("value").GetDecimal());

        var report = await Report();
        Assert.Equal(("gpt-4o", 1L, 400L, 950L, 10_500L), (report.GetProperty("model").GetString(), report.GetProperty("requests").GetInt64(),
            report.GetProperty("input_tokens").GetInt64(), report.GetProperty("output_tokens").GetInt64(), report.GetProperty("cost_micros").GetInt64()));
        // The day's, the hour's and the minute's counters (the minute of the beat, 12:00).
        foreach (var width in new[] { "1d", "1h", "1m" })
        {
            var row = Assert.Single(await Completions(width));
            Assert.Equal((1L, 400L, 950L), (row.GetProperty("num_model_requests").GetInt64(), row.GetProperty("input_tokens").GetInt64(), row.GetProperty("output_tokens").GetInt64()));
        }
        Assert.Equal(0.0105m, await Costs());

        // The replica was only cut off: its settle (12,000 µ$, 1,100 output tokens) comes after all. It charges the 1,500 µ$
        // the lease left out and counts only the rest: still one request, the settle's tokens, no second threshold event.
        var late = new SettleRequest(account, keyRef.KeyId, "req_leaseuse", "gpt-4o",
            new Charge(12_000, [new LineItem("input", 400, 2_500_000m), new LineItem("output", 1100, 10_000_000m)]), new TokenUsage(400, 0, 1100));
        Assert.False((await billing.SettleAsync(late)).AlreadySettled);
        report = await Report();
        Assert.Equal((1L, 400L, 1100L, 12_000L), (report.GetProperty("requests").GetInt64(),
            report.GetProperty("input_tokens").GetInt64(), report.GetProperty("output_tokens").GetInt64(), report.GetProperty("cost_micros").GetInt64()));
        // Minutes: the lease's charge in 12:00's, the rest in the settle's (12:01), no request counted twice.
        var minutes = await Completions("1m");
        Assert.Equal((1L, 1100L), (minutes.Sum(r => r.GetProperty("num_model_requests").GetInt64()), minutes.Sum(r => r.GetProperty("output_tokens").GetInt64())));
        Assert.Equal(0.012m, await Costs());
        clock.Advance(TimeSpan.FromSeconds(2));
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Single(hooks.Received, Mine);
        var ledger = await gw.LedgerAsync(account);
        Assert.Equal(await gw.BalanceMicrosAsync(account), ledger.Sum(e => e.GetProperty("amount_micros").GetInt64()));
    }
}
