using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Metering;

public sealed class OutputClampTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private GatewayHost _gw = null!;

    public async Task InitializeAsync() => _gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Billing:MinimumTopUpUsd"] = "0.01" });

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    [Fact]
    public async Task NoMaxTokens_AndBalanceBelowWorstCase_LowersTheOutputLimitToItsShareOfTheBalance()
    {
        var account = "clamp-" + Guid.NewGuid().ToString("N")[..6];
        var key = await _gw.FundedKeyAsync(account, 0.05m);
        const string body = """{"model":"gpt-4o","messages":[{"role":"user","content":"write a long story"}]}""";
        // Hold = input bound at $2.50/1M + output at $10/1M, at most half the room (Metering:MaxHoldShare 0.5) without max_tokens.
        // Input bound: 32 per request + 8 "messages" + 8 message + "role" 4 + "user" 4 + "content" 7 + "write a long story" 18
        // = 81 tokens, 202.5 → 203 µ$. Half of $0.05 is 25,000 µ$: (25,000 − 203) / 10 µ$ = 2,479 output tokens, not 16,384.
        const long expected = (25_000 - 203) / 10;

        var r = await _gw.PostAsync(key, "/v1/chat/completions", body);

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var forwarded = JsonDocument.Parse(_gw.Upstream.Requests.Last().Body).RootElement;
        Assert.Equal(expected, forwarded.GetProperty("max_completion_tokens").GetInt64());
        Assert.Equal("write a long story", forwarded.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.True(await _gw.BalanceMicrosAsync(account) >= 0);
    }

    [Fact]
    public async Task NoMaxTokens_WithMaxHoldShareOne_LowersTheOutputLimitToTheWholeBalance()
    {
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Billing:MinimumTopUpUsd"] = "0.01", ["Metering:MaxHoldShare"] = "1" });
        var account = "clamp-" + Guid.NewGuid().ToString("N")[..6];
        var key = await gw.FundedKeyAsync(account, 0.05m);

        var r = await gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"write a long story"}]}""");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        // The same input bound of 203 µ$, the whole room: (50,000 − 203) / 10 µ$ = 4,979 output tokens.
        var forwarded = JsonDocument.Parse(gw.Upstream.Requests.Last().Body).RootElement;
        Assert.Equal((50_000 - 203) / 10, forwarded.GetProperty("max_completion_tokens").GetInt64());
    }

    [Fact]
    public async Task NoMaxTokens_ShareBelowTheMinimumOutput_StillGetsTheMinimum_WhenTheRoomPaysForIt()
    {
        var account = "clamp-" + Guid.NewGuid().ToString("N")[..6];
        var key = await _gw.FundedKeyAsync(account, 0.01m);
        // Input bound: 63 + 1,917 bytes of content = 1,980 tokens, 4,950 µ$. Half of $0.01 (5,000 µ$) pays (5,000 − 4,950) / 10
        // = 5 output tokens, below Metering:MinimumOutputTokens (16); the room (10,000) pays 4,950 + 160: the limit is 16.
        var r = await _gw.PostAsync(key, "/v1/chat/completions", $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{new string('a', 1917)}}"}]}""");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var forwarded = JsonDocument.Parse(_gw.Upstream.Requests.Last().Body).RootElement;
        Assert.Equal(16, forwarded.GetProperty("max_completion_tokens").GetInt64());
    }

    [Fact]
    public async Task MaxHoldShare_OutOfRange_StopsTheStart_NamingTheSetting()
    {
        foreach (var share in new[] { "0", "1.5", "-0.5" })
        {
            var e = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
                GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Metering:MaxHoldShare"] = share }));
            Assert.Contains("TokenGateway:Metering:MaxHoldShare", e.Message);
        }
    }

    [Fact]
    public async Task ExplicitMaxTokens_ThatCannotBeAfforded_Gets429_WithAmounts()
    {
        var account = "clamp-" + Guid.NewGuid().ToString("N")[..6];
        var key = await _gw.FundedKeyAsync(account, 0.05m);
        var before = _gw.Upstream.Requests.Count;

        var r = await _gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o","max_tokens":16000,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
        var message = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("You exceeded your current quota", message);
        Assert.Contains("$0.05 available", message);
        Assert.Equal(before, _gw.Upstream.Requests.Count);
    }

    [Fact]
    public async Task BalanceBelowMinimumOutput_Gets429_EvenWithoutMaxTokens()
    {
        var account = "clamp-" + Guid.NewGuid().ToString("N")[..6];
        var key = await _gw.FundedKeyAsync(account, 0.01m);
        // A big prompt (4,000 tokens at $2.50/1M = $0.01) eats the whole balance: no output would be affordable.
        var prompt = string.Concat(Enumerable.Repeat(" hello", 4000));
        var r = await _gw.PostAsync(key, "/v1/chat/completions", $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{prompt}}"}]}""");

        Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
        Assert.Equal(10_000, await _gw.BalanceMicrosAsync(account));
    }
}
