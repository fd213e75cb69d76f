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
    public async Task NoMaxTokens_AndBalanceBelowWorstCase_LowersTheOutputLimitToWhatTheBalancePays()
    {
        var account = "clamp-" + Guid.NewGuid().ToString("N")[..6];
        var key = await _gw.FundedKeyAsync(account, 0.05m);
        const string body = """{"model":"gpt-4o","messages":[{"role":"user","content":"write a long story"}]}""";
        // Hold = input (local count + 10% + 16 margin, at $2.50/1M) + output at $10/1M: $0.05 pays ~4,990 output tokens, not 16,384.
        var counted = TokenGateway.Tokenizers.TiktokenTokenizer.CreateForModel("gpt-4o").CountTokens("write a long story") + 3 + 3;
        var inputCost = (long)Math.Ceiling((counted + counted / 10 + 16) * 2.5);
        var expected = (50_000 - inputCost) * 1_000_000 / 10_000_000;

        var r = await _gw.PostAsync(key, "/v1/chat/completions", body);

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var forwarded = JsonDocument.Parse(_gw.Upstream.Requests.Last().Body).RootElement;
        Assert.Equal(expected, forwarded.GetProperty("max_completion_tokens").GetInt64());
        Assert.Equal("write a long story", forwarded.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.True(await _gw.BalanceMicrosAsync(account) >= 0);
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
