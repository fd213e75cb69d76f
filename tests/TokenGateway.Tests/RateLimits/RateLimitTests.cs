using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;
using StackExchange.Redis;
using TokenGateway.Billing;
using TokenGateway.Keys;
using TokenGateway.RateLimits;
using TokenGateway.Tests.Infrastructure;
using TokenGateway.Tests.Telemetry;

namespace TokenGateway.Tests.RateLimits;

/// <summary>
/// Rate limits through the official OpenAI SDK, on a gateway whose clock is a <see cref="FakeTimeProvider"/> that only
/// moves when a test says so: OpenAI's per-minute windows, with every remaining count and wait exact.
/// </summary>
public sealed class RateLimitTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _gw = await GatewayHost.StartAsync(redis, clock: _clock);
        // gpt-4o-mini: 40 input and 10 output tokens a request, as the upstream reports them.
        _gw.Upstream.Options.PromptTokens = 40;
        _gw.Upstream.Options.CompletionTokens = 10;
    }

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private static ChatCompletionOptions MaxTokens(int n) => new() { MaxOutputTokenCount = n };

    private async Task<(string Account, string KeyId, string Key)> KeyAsync(object? keyLimits = null, object? accountLimits = null)
    {
        var account = "rl-" + Guid.NewGuid().ToString("N")[..8];
        await _gw.CreateAccountAsync(account);
        await _gw.AddCreditsAsync(account, 100m);
        var (keyId, key) = await _gw.CreateKeyAsync(account);
        if (keyLimits is not null) await _gw.PutAsync($"/admin/keys/{keyId}/rate-limits", keyLimits);
        if (accountLimits is not null) await _gw.PutAsync($"/admin/accounts/{account}/rate-limits", accountLimits);
        return (account, keyId, key);
    }

    private static string Header(ClientResult result, string name) => Header(result.GetRawResponse(), name);

    private static string Header(System.ClientModel.Primitives.PipelineResponse response, string name) =>
        response.Headers.TryGetValue(name, out var value) ? value! : throw new Xunit.Sdk.XunitException($"no {name} header");

    [Fact]
    public async Task Rpm_CountsDownExactly_RefusesTheFourthWithRequestsTypeAndRetryAfter_AndAdmitsOnceTheWindowAllows()
    {
        var (account, keyId, key) = await KeyAsync(new { rpm = 3 });
        var chat = _gw.OpenAI(key).GetChatClient("gpt-4o-mini");
        var forwarded = _gw.Upstream.Requests.Count;

        var remaining = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var ok = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(100));
            Assert.Equal("3", Header(ok, "x-ratelimit-limit-requests"));
            remaining.Add(Header(ok, "x-ratelimit-remaining-requests"));
            Assert.False(ok.GetRawResponse().Headers.TryGetValue("x-ratelimit-limit-tokens", out _)); // no token limit applies
        }
        Assert.Equal(["2", "1", "0"], remaining);

        // 3 RPM: one request every 20 s, three at once. After three the window is full for 60 s; the fourth fits in 20 s.
        var e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(100)));
        Assert.Equal(429, e.Status);
        var raw = e.GetRawResponse()!;
        var error = JsonDocument.Parse(raw.Content.ToString()).RootElement.GetProperty("error");
        Assert.Equal("requests", error.GetProperty("type").GetString());
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Equal($"Rate limit reached for gpt-4o-mini in API key '{keyId}' of organization '{account}' on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
            error.GetProperty("message").GetString());
        Assert.Equal("20", Header(raw, "Retry-After"));
        Assert.Equal("20000", Header(raw, "retry-after-ms"));
        Assert.Equal("0", Header(raw, "x-ratelimit-remaining-requests"));
        Assert.Equal("1m0s", Header(raw, "x-ratelimit-reset-requests"));
        Assert.False(raw.Headers.TryGetValue("x-should-retry", out _));

        // Nothing refused is forwarded, held or charged.
        Assert.Equal(forwarded + 3, _gw.Upstream.Requests.Count);
        Assert.Equal(0, await _gw.HeldMicrosAsync(account));
        Assert.Equal(3, (await _gw.LedgerAsync(account)).Count(l => l.GetProperty("type").GetString() == "debit"));
        var metrics = await _gw.Http.GetStringAsync("/metrics");
        Assert.Equal(1, MetricsText.Value(metrics, "tokengateway_rate_limited_total", ("account", account), ("limit", "rpm"), ("scope", "key")));
        Assert.Equal(1, MetricsText.Value(metrics, "tokengateway_requests_total", ("account", account), ("model", "gpt-4o-mini"), ("outcome", "rate_limited")));

        _clock.Advance(TimeSpan.FromMilliseconds(19_999));
        await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(100)));
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        var admitted = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(100));
        Assert.Equal("0", Header(admitted, "x-ratelimit-remaining-requests"));
        Assert.Equal("1m0s", Header(admitted, "x-ratelimit-reset-requests"));
    }

    [Fact]
    public async Task StreamedResponse_CarriesTheHeadersToo_ReplacingTheUpstreams()
    {
        var (_, _, key) = await KeyAsync(new { rpm = 10 });
        _gw.Upstream.Options.RateLimitHeaders = true;
        using var r = await _gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o-mini","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/event-stream", r.Content.Headers.ContentType?.MediaType);
        Assert.Equal("10", r.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("9", r.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.Equal("6s", r.Headers.GetValues("x-ratelimit-reset-requests").Single());
        // The upstream's set (its provider account's token limit) is not mixed in: no gateway token limit applies.
        Assert.False(r.Headers.Contains("x-ratelimit-limit-tokens"));
        _gw.Upstream.Options.RateLimitHeaders = false;

        // Without a gateway limit, the upstream's pass through unchanged.
        var (_, _, free) = await KeyAsync();
        _gw.Upstream.Options.RateLimitHeaders = true;
        using var passed = await _gw.PostAsync(free, "/v1/chat/completions", """{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}""");
        _gw.Upstream.Options.RateLimitHeaders = false;
        Assert.Equal("10000", passed.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("30000000", passed.Headers.GetValues("x-ratelimit-limit-tokens").Single());
    }

    [Fact]
    public async Task Tpm_RemainingTokensDecreaseExactly_ByTheTokensUsed_OnceSettled()
    {
        var (account, keyId, key) = await KeyAsync(new { tpm = 100_000 });
        var chat = _gw.OpenAI(key).GetChatClient("gpt-4o-mini");

        var first = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(1000));
        var second = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(1000));
        var third = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(1000));

        // Each is admitted for its estimate (input estimate + 1,000), which its settle corrects to the 50 tokens it used:
        // the next one sees 50 fewer remaining than the previous did.
        Assert.Equal("100000", Header(first, "x-ratelimit-limit-tokens"));
        var r1 = long.Parse(Header(first, "x-ratelimit-remaining-tokens"));
        var estimate = 100_000 - r1;
        Assert.InRange(estimate, 1001, 1100);
        Assert.Equal(r1 - 50, long.Parse(Header(second, "x-ratelimit-remaining-tokens")));
        Assert.Equal(r1 - 100, long.Parse(Header(third, "x-ratelimit-remaining-tokens")));
        // 100 tokens used and the third's estimate in the window, at 0.6 ms a token: whole again in that time.
        Assert.Equal(RateLimitHeaders.Duration((long)Math.Ceiling((100 + estimate) * 0.6)), Header(third, "x-ratelimit-reset-tokens"));
        Assert.False(first.GetRawResponse().Headers.TryGetValue("x-ratelimit-limit-requests", out _));

        // The state lives under the account's hash tag: the bucket and the tokens given back to it, which the next
        // admission applies; a settled request leaves no record of its own behind.
        using var conn = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var fields = (await conn.GetDatabase().HashKeysAsync(new TokenGateway.Redis.AccountKeys(account).RateLimitState)).Select(f => (string)f!).Order(StringComparer.Ordinal).ToList();
        Assert.Equal([$"k:{keyId}:tpm", $"k:{keyId}:tpm:b"], fields);
    }

    [Fact]
    public async Task Tpm_LargeMaxTokensWithFewUsed_GivesTheRoomBackAtSettle()
    {
        // 5,000 TPM: one request with max_tokens 4,000 fits; a second one fits only because the first used 50 tokens.
        var (_, _, key) = await KeyAsync(accountLimits: new { tpm = 5000 });
        var chat = _gw.OpenAI(key).GetChatClient("gpt-4o-mini");

        await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(4000));
        var second = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(4000));

        var estimate = 5000 - 50 - long.Parse(Header(second, "x-ratelimit-remaining-tokens")) - 4000;
        Assert.InRange(estimate, 1, 100);
    }

    [Fact]
    public async Task Tpm_RefusesWithTokensType_OpenAIsMessage_AndTheExactWait()
    {
        var (account, _, key) = await KeyAsync(accountLimits: new { tpm = 5000 });
        _gw.Upstream.Options.CompletionTokens = 4000;
        try
        {
            var chat = _gw.OpenAI(key).GetChatClient("gpt-4o-mini");
            var first = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(4000));
            var estimate = 5000 - 4000 - long.Parse(Header(first, "x-ratelimit-remaining-tokens"));

            var e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(4000)));

            // The first used 4,040 tokens; the second asks for its estimate + 4,000. At 12 ms a token (5,000 a minute) the
            // window holds 60 s of them: the second fits once (4,040 + requested) × 12 ms − 60 s have passed.
            var requested = estimate + 4000;
            var waitMs = (4040 + requested) * 12 - 60_000;
            var raw = e.GetRawResponse()!;
            var error = JsonDocument.Parse(raw.Content.ToString()).RootElement.GetProperty("error");
            Assert.Equal(429, e.Status);
            Assert.Equal("tokens", error.GetProperty("type").GetString());
            Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
            Assert.Equal($"Rate limit reached for gpt-4o-mini in organization '{account}' on tokens per min (TPM): Limit 5000, Used 4040, Requested {requested}. Please try again in {RateLimitHeaders.Duration(waitMs)}.",
                error.GetProperty("message").GetString());
            Assert.Equal(((waitMs + 999) / 1000).ToString(), Header(raw, "Retry-After"));
            Assert.Equal(waitMs.ToString(), Header(raw, "retry-after-ms"));
            Assert.Equal("5000", Header(raw, "x-ratelimit-limit-tokens"));
            Assert.Equal("960", Header(raw, "x-ratelimit-remaining-tokens"));
            Assert.Equal(0, await _gw.HeldMicrosAsync(account));

            _clock.Advance(TimeSpan.FromMilliseconds(waitMs));
            var admitted = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(4000));
            Assert.Equal("0", Header(admitted, "x-ratelimit-remaining-tokens"));
        }
        finally
        {
            _gw.Upstream.Options.CompletionTokens = 10;
        }
    }

    [Fact]
    public async Task Rpd_RefusesForTheRestOfTheDaysWindow_WithAnHoursLongRetryAfter()
    {
        var (account, _, key) = await KeyAsync(accountLimits: new { rpd = 2, rpm = 100 });
        var chat = _gw.OpenAI(key).GetChatClient("gpt-4o-mini");
        var first = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10));
        Assert.Equal("2", Header(first, "x-ratelimit-limit-requests")); // the tightest: 1 of 2 a day left, not 99 of 100 a minute
        Assert.Equal("1", Header(first, "x-ratelimit-remaining-requests"));
        Assert.Equal("12h0m0s", Header(first, "x-ratelimit-reset-requests"));
        await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10));

        // 2 a day: one every 12 h. Both used at once, the third fits in 12 h.
        var e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10)));
        var raw = e.GetRawResponse()!;
        Assert.Equal("43200", Header(raw, "Retry-After"));
        Assert.EndsWith($"in organization '{account}' on requests per day (RPD): Limit 2, Used 2, Requested 1. Please try again in 12h0m0s.",
            JsonDocument.Parse(raw.Content.ToString()).RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Tpm_RequestLargerThanTheLimit_IsRefusedAsTooLarge_AndNotRetryable()
    {
        var (_, _, key) = await KeyAsync(new { tpm = 1000 });
        var e = await Assert.ThrowsAsync<ClientResultException>(() =>
            _gw.OpenAI(key, maxRetries: 2).GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(2000)));
        var raw = e.GetRawResponse()!;
        var error = JsonDocument.Parse(raw.Content.ToString()).RootElement.GetProperty("error");
        Assert.Equal("tokens", error.GetProperty("type").GetString());
        Assert.StartsWith("Request too large for gpt-4o-mini", error.GetProperty("message").GetString());
        Assert.Equal("false", Header(raw, "x-should-retry"));
        Assert.False(raw.Headers.TryGetValue("Retry-After", out _));
    }

    [Fact]
    public async Task ProjectModelLimit_AppliesToItsModelOnly_AndNamesTheProject()
    {
        var (account, _, _) = await KeyAsync();
        (await _gw.Admin.PostAsJsonAsync($"/admin/accounts/{account}/projects", new { id = "batch" })).EnsureSuccessStatusCode();
        var (_, key) = await _gw.CreateKeyAsync(account, new { name = "b", project = "batch" });
        await _gw.PutAsync($"/admin/accounts/{account}/projects/batch/rate-limits", new { rpm = 100, models = new Dictionary<string, object> { ["gpt-4o-mini"] = new { rpm = 1 } } });
        var client = _gw.OpenAI(key);

        var ok = await client.GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10));
        Assert.Equal("0", Header(ok, "x-ratelimit-remaining-requests")); // the tightest: the model's 1 RPM, not the project's 100
        var e = await Assert.ThrowsAsync<ClientResultException>(() => client.GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10)));
        Assert.Contains($"in project 'batch' of organization '{account}' on requests per min (RPM) for gpt-4o-mini: Limit 1, Used 1", JsonDocument.Parse(e.GetRawResponse()!.Content.ToString()).RootElement.GetProperty("error").GetProperty("message").GetString());

        var other = await client.GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10));
        Assert.Equal("98", Header(other, "x-ratelimit-remaining-requests"));
    }

    [Fact]
    public async Task MaxInFlight_RefusesWhileHeld_AndTheLeaseEndFreesTheSlot()
    {
        var (account, keyId, key) = await KeyAsync(new { max_in_flight = 1 });
        var billing = _gw.Services.GetRequiredService<BillingStore>();
        var sha = GatewayKeySecret.Hash(key);
        ReserveRequest Reserve(string id) => new(account, keyId, sha, id, "gpt-4o", 1000, 10_000_000, 100, 1, true, 10);

        // Two gateways reserve without settling (one of them died): the second waits for the first.
        Assert.Equal(ReserveStatus.Reserved, (await billing.ReserveAsync(Reserve("req_a"))).Status);
        var refused = await billing.ReserveAsync(Reserve("req_b"));
        Assert.Equal(ReserveStatus.RateLimited, refused.Status);
        Assert.Equal(RateLimitWindow.InFlight, refused.RateLimited!.Window);
        Assert.Equal("requests", refused.RateLimited.Type);

        // A settle ends it: the next is admitted. Its lease ending (the gateway died) ends it too.
        await billing.SettleAsync(new SettleRequest(account, keyId, "req_a", "gpt-4o", TokenGateway.Pricing.Charge.None, default));
        Assert.Equal(ReserveStatus.Reserved, (await billing.ReserveAsync(Reserve("req_c"))).Status);
        Assert.Equal(ReserveStatus.RateLimited, (await billing.ReserveAsync(Reserve("req_d"))).Status);
        _clock.Advance(TimeSpan.FromMinutes(16)); // past the hold's lease (Metering:HoldTtlSeconds, 15 min by default)
        Assert.Equal(ReserveStatus.Reserved, (await billing.ReserveAsync(Reserve("req_e"))).Status);
    }

    [Fact]
    public async Task OneRequest_WithEveryLimitSet_IsStillOneEvalshaForTheReserveAndOneForTheSettle()
    {
        var (account, _, key) = await KeyAsync(new { rpm = 1000, tpm = 1_000_000, rpd = 10_000, max_in_flight = 10, models = new Dictionary<string, object> { ["gpt-4o-mini"] = new { rpm = 500, tpm = 500_000 } } },
            new { rpm = 1000, tpm = 1_000_000, rpd = 10_000 });
        (await _gw.Admin.PutAsJsonAsync($"/admin/accounts/{account}/projects/default/rate-limits", new { rpm = 1000 })).EnsureSuccessStatusCode();
        var chat = _gw.OpenAI(key).GetChatClient("gpt-4o-mini");
        await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10)); // the scripts are loaded, the key cached

        using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        await server.ConfigResetStatisticsAsync();
        var ok = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10));
        var stats = (await server.InfoAsync("commandstats")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);

        Assert.Equal("498", Header(ok, "x-ratelimit-remaining-requests")); // the tightest: the model's 500 RPM of the key
        Assert.StartsWith("calls=2,", stats["cmdstat_evalsha"]);
        Assert.False(stats.ContainsKey("cmdstat_eval"));
        Assert.False(stats.ContainsKey("cmdstat_script|load"));
    }

    [Fact]
    public async Task Tpm_RequestUsingMoreThanItsEstimate_IsChargedTheRest()
    {
        // The estimate of a request's input is an upper bound for text, but an upstream may report more (tools, images):
        // the settle charges the bucket what was used beyond the admission's charge.
        var (_, _, key) = await KeyAsync(new { tpm = 100_000 });
        var chat = _gw.OpenAI(key).GetChatClient("gpt-4o-mini");
        var first = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10));
        var charged = 100_000 - long.Parse(Header(first, "x-ratelimit-remaining-tokens"));
        _gw.Upstream.Options.PromptTokens = 5000;

        var second = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10));
        var third = await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10));

        // The first used 50 of its charge; the second used 5,010 and the third is admitted after that is counted.
        Assert.Equal(100_000 - 50 - charged, long.Parse(Header(second, "x-ratelimit-remaining-tokens")));
        Assert.Equal(100_000 - 50 - 5010 - charged, long.Parse(Header(third, "x-ratelimit-remaining-tokens")));
    }

    [Fact]
    public async Task LimitsStoredAsJson_AndAHoldWithItsRecordInTheStateHash_StillWork()
    {
        // Before the compact stored form and records in holds (issue 16's speed work) limits were stored as JSON and a
        // request's record was the state hash's h:<request id>: both are still read, so an upgrade loses nothing.
        var (account, keyId, key) = await KeyAsync();
        var keys = new TokenGateway.Redis.AccountKeys(account);
        using var conn = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var db = conn.GetDatabase();
        await db.HashSetAsync(keys.Account, $"rl:k:{keyId}", """{"rpm":100,"max_in_flight":1,"models":{"gpt-4o":{"rpm":3}}}""");

        var view = await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/keys/{keyId}/rate-limits");
        Assert.Equal(100, view.GetProperty("rpm").GetInt64());
        Assert.Equal(3, view.GetProperty("models").GetProperty("gpt-4o").GetProperty("rpm").GetInt64());
        var served = await _gw.OpenAI(key).GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10));
        Assert.Equal("2", Header(served, "x-ratelimit-remaining-requests"));

        var billing = _gw.Services.GetRequiredService<BillingStore>();
        var sha = GatewayKeySecret.Hash(key);
        ReserveRequest Reserve(string id) => new(account, keyId, sha, id, "gpt-4o-mini", 1000, 10_000_000, 100, 1, true, 10);
        Assert.Equal(ReserveStatus.Reserved, (await billing.ReserveAsync(Reserve("req_old"))).Status);
        // The hold as it was written then: no record part, the record in the state hash.
        var hold = (string)(await db.HashGetAsync(keys.Holds, "req_old"))!;
        var (amount, record) = (hold.Split('|')[0], hold.Split('|')[3]);
        await db.HashSetAsync(keys.Holds, "req_old", $"{amount}|{keyId}|default");
        await db.HashSetAsync(keys.RateLimitState, "h:req_old", record);
        Assert.Equal(ReserveStatus.RateLimited, (await billing.ReserveAsync(Reserve("req_b"))).Status);

        await billing.SettleAsync(new SettleRequest(account, keyId, "req_old", "gpt-4o-mini", TokenGateway.Pricing.Charge.None, default));
        Assert.False(await db.HashExistsAsync(keys.RateLimitState, "h:req_old"));
        Assert.Equal(ReserveStatus.Reserved, (await billing.ReserveAsync(Reserve("req_c"))).Status);
    }

    [Fact]
    public async Task LimitsStoredAsTextAlone_AndABucketStoredAsADecimal_StillWork()
    {
        // Before the packed part of the stored form, limits were the text alone; before buckets were packed doubles, a
        // bucket's time was a decimal. Both are still read. And what this version stores starts with that text, which
        // the version before reads during a rolling upgrade.
        var (account, keyId, key) = await KeyAsync(keyLimits: new { rpm = 100, models = new Dictionary<string, object> { ["gpt-4o"] = new { tpm = 50_000 } } });
        var keys = new TokenGateway.Redis.AccountKeys(account);
        using var conn = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var db = conn.GetDatabase();
        var stored = (byte[])(await db.HashGetAsync(keys.Account, $"rl:k:{keyId}"))!;
        Assert.StartsWith("100 0 0 0 gpt-4o=0,50000\0", System.Text.Encoding.Latin1.GetString(stored));

        await db.HashSetAsync(keys.Account, $"rl:k:{keyId}", "100 0 0 0 gpt-4o=3,0");
        // 50 requests' worth of the key's RPM bucket in use (GCRA: 600 ms a request), as a decimal time.
        await db.HashSetAsync(keys.RateLimitState, $"k:{keyId}:rpm", (_clock.GetUtcNow().ToUnixTimeMilliseconds() + 50 * 600).ToString());

        var view = await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/keys/{keyId}/rate-limits");
        Assert.Equal(100, view.GetProperty("rpm").GetInt64());
        Assert.Equal(3, view.GetProperty("models").GetProperty("gpt-4o").GetProperty("rpm").GetInt64());
        var chat = _gw.OpenAI(key).GetChatClient("gpt-4o-mini");
        // The key's RPM: 100, 50 in use, this one: 49 left.
        Assert.Equal("49", Header(await chat.CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10)), "x-ratelimit-remaining-requests"));
        // gpt-4o's own RPM of 3 is tighter than the key's 48 left.
        Assert.Equal("2", Header(await _gw.OpenAI(key).GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("hi")], MaxTokens(10)), "x-ratelimit-remaining-requests"));
    }
}
