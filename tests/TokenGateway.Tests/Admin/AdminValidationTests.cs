using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using StackExchange.Redis;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Admin;

/// <summary>
/// Every refusal of the admin API: its status, OpenAI's error shape, and that it changed nothing in Redis. Then the
/// Idempotency-Key fingerprint of top-ups.
/// </summary>
public sealed class AdminValidationTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>, IAsyncLifetime
{
    /// <summary>Replaced, in a row's path and body, by the id of an account seeded for that row.</summary>
    private const string Acct = "{acct}";
    private const string Future = "2099-01-01T00:00:00Z";
    private const string Past = "2020-01-01T00:00:00Z";

    private readonly RedisServer _redis = fixture.Redis;
    private readonly GatewayHost _gw = fixture.Gateway;
    private ConnectionMultiplexer _probe = null!;

    public async Task InitializeAsync() => _probe = await ConnectionMultiplexer.ConnectAsync(_redis.Configuration);

    public Task DisposeAsync()
    {
        _probe.Dispose();
        return Task.CompletedTask;
    }

    private static readonly string TooLongId = "a" + new string('b', 64);

    /// <summary>method, path, body (null: none), content type (null: application/json), Idempotency-Key, status, error.code, error.param.</summary>
    public static TheoryData<string, string, string?, string?, string?, int, string, string?> Refused()
    {
        var rows = new TheoryData<string, string, string?, string?, string?, int, string, string?>();
        void Row(string method, string path, string? body, int status, string code, string? param, string? contentType = null, string? idempotencyKey = null) =>
            rows.Add(method, path, body, contentType, idempotencyKey, status, code, param);

        // Creating an account: the id rule (^[a-z0-9][a-z0-9_-]{0,63}\z) and the body.
        foreach (var id in new[] { "nl\\n", ".", "..", "UPPER", "-lead", "_lead", TooLongId, "", "a b", "bad{tag}", "a.b", "caf\u00e9", "a/b" })
            Row("POST", "/admin/accounts", $$"""{"id":"{{id}}","name":"x"}""", 400, "invalid_request", "id");
        Row("POST", "/admin/accounts", """{"name":"no id"}""", 400, "invalid_request", "id");
        Row("POST", "/admin/accounts", """{"id":null}""", 400, "invalid_request", "id");
        Row("POST", "/admin/accounts", """{"id":123}""", 400, "invalid_request", "id");
        Row("POST", "/admin/accounts", """{"id":"dup-a","id":"dup-b"}""", 400, "invalid_request", null);
        Row("POST", "/admin/accounts", $$"""{"id":"{{Acct}}"}""", 409, "account_exists", "id");

        // Every route with an account id in its path uses the same rule: 404, as for an unknown account.
        var routes = new (string Method, string Suffix, string? Body)[]
        {
            ("GET", "", null),
            ("POST", "/keys", """{"name":"k"}"""),
            ("POST", "/credits", """{"amount_usd":5}"""),
            ("PUT", "/limits", """{"hard_limit_usd":100,"soft_limit_usd":50}"""),
            ("PUT", "/auto-recharge", """{"enabled":true,"threshold_usd":5,"amount_usd":10,"monthly_limit_usd":50,"mode":"internal"}"""),
            ("GET", "/ledger", null),
            ("GET", "/usage", null),
        };
        foreach (var (method, suffix, body) in routes)
        {
            foreach (var id in new[] { "nl%0A", "a.b", "UPPER" })
                Row(method, $"/admin/accounts/{id}{suffix}", body, 404, "not_found", null);
        }
        foreach (var id in new[] { "-lead", TooLongId, "bad%7Btag%7D", "a%20b", "nobody-here" })
            Row("GET", $"/admin/accounts/{id}", null, 404, "not_found", null);

        // Credits.
        var credits = $"/admin/accounts/{Acct}/credits";
        foreach (var amount in new[] { "0", "-5", "4.99", "5.0000001" })
            Row("POST", credits, $$"""{"amount_usd":{{amount}}}""", 400, "invalid_request", "amount_usd");
        Row("POST", credits, "{}", 400, "invalid_request", "amount_usd");
        Row("POST", credits, """{"amount_usd":"abc"}""", 400, "invalid_request", "amount_usd");
        Row("POST", credits, """{"amount_usd":1e400}""", 400, "invalid_request", "amount_usd");
        Row("POST", credits, """{"amount_usd":5,"source":"gift"}""", 400, "invalid_request", "source");
        Row("POST", credits, $$"""{"amount_usd":5,"expires_at":"{{Past}}"}""", 400, "invalid_request", "expires_at");
        Row("POST", credits, """{"amount_usd":5,"expires_at":"nope"}""", 400, "invalid_request", "expires_at");
        Row("POST", credits, """{"amount_usd":5,"amount_usd":500}""", 400, "invalid_request", null);
        Row("POST", credits, """{"amount_usd":5,"AMOUNT_USD":500}""", 400, "invalid_request", "amount_usd");
        Row("POST", credits, """{"amount_usd":5,"note":"a","note":"b"}""", 400, "invalid_request", null);
        Row("POST", credits, """{"amount_usd":5,"meta":{"a":1,"a":2}}""", 400, "invalid_request", null);
        Row("POST", credits, """{"amount_usd":5,"n\u006fte":1,"note":2}""", 400, "invalid_request", null);
        foreach (var malformed in new[] { "{", "null", "[]", "", """{"amount_usd":5}x""", """{"amount_usd":5,}""" })
            Row("POST", credits, malformed, 400, "invalid_request", null);
        Row("POST", credits, """{"amount_usd":5}""", 400, "invalid_request", null, contentType: "text/plain");
        Row("POST", credits, """{"amount_usd":5}""", 400, "invalid_request", null, idempotencyKey: new string('k', 201));

        // Limits.
        var limits = $"/admin/accounts/{Acct}/limits";
        Row("PUT", limits, """{"hard_limit_usd":10,"soft_limit_usd":20}""", 400, "invalid_request", "soft_limit_usd");
        Row("PUT", limits, """{"hard_limit_usd":-1}""", 400, "invalid_request", "hard_limit_usd");
        Row("PUT", limits, """{"soft_limit_usd":-1}""", 400, "invalid_request", "soft_limit_usd");
        Row("PUT", limits, """{"hard_limit_usd":"x"}""", 400, "invalid_request", "hard_limit_usd");
        Row("PUT", limits, """{"hard_limit_usd":10.0000001}""", 400, "invalid_request", "hard_limit_usd");
        Row("PUT", limits, """{"hard_limit_usd":100,"hard_limit_usd":1}""", 400, "invalid_request", null);

        // Keys.
        var keys = $"/admin/accounts/{Acct}/keys";
        Row("POST", keys, $$"""{"name":"k","expires_at":"{{Past}}"}""", 400, "invalid_request", "expires_at");
        Row("POST", keys, """{"name":"k","expires_at":"tomorrow"}""", 400, "invalid_request", "expires_at");
        Row("POST", keys, """{"name":"k","monthly_limit_usd":-1}""", 400, "invalid_request", "monthly_limit_usd");
        Row("POST", keys, """{"name":"k","models":["a,b"]}""", 400, "invalid_request", "models");
        Row("POST", keys, """{"name":"k","models":[""]}""", 400, "invalid_request", "models");
        Row("POST", keys, """{"name":"k","models":"gpt-4o"}""", 400, "invalid_request", "models");
        Row("POST", keys, """{"name":"k","name":"other"}""", 400, "invalid_request", null);

        // Auto-recharge.
        var recharge = $"/admin/accounts/{Acct}/auto-recharge";
        static string Recharge(string enabled = "true", string threshold = "5", string amount = "10", string limit = "50", string mode = "\"internal\"") =>
            $$"""{"enabled":{{enabled}},"threshold_usd":{{threshold}},"amount_usd":{{amount}},"monthly_limit_usd":{{limit}},"mode":{{mode}}}""";
        Row("PUT", recharge, Recharge(enabled: "null"), 400, "invalid_request", "enabled");
        Row("PUT", recharge, Recharge(enabled: "\"yes\""), 400, "invalid_request", "enabled");
        Row("PUT", recharge, Recharge(threshold: "-1"), 400, "invalid_request", "threshold_usd");
        Row("PUT", recharge, Recharge(amount: "1"), 400, "invalid_request", "amount_usd");
        Row("PUT", recharge, Recharge(limit: "5"), 400, "invalid_request", "monthly_limit_usd");
        Row("PUT", recharge, Recharge(mode: "\"card\""), 400, "invalid_request", "mode");
        Row("PUT", recharge, Recharge(mode: "\"webhook\""), 400, "invalid_request", "mode"); // no funding webhook configured
        Row("PUT", recharge, Recharge()[..^1] + ""","mode":"webhook"}""", 400, "invalid_request", null);

        // Ledger: limit and cursor are parsed by the handler; a cursor Redis would refuse never reaches it.
        var ledger = $"/admin/accounts/{Acct}/ledger";
        foreach (var limit in new[] { "abc", "0", "1001", "-1", "", "1.5", "%2B5", "%205", "99999999999" })
            Row("GET", $"{ledger}?limit={limit}", null, 400, "invalid_request", "limit");
        foreach (var cursor in new[]
        {
            "99999999999999999999-1", "1-99999999999999999999", "18446744073709551616-0", "18446744073709551615-18446744073709551615",
            "abc", "1-", "-1", "1", "01-1", "1-01", "%2B1-1", "1-1%0A", "1-1-1", "%201-1", "1-%2B1", "",
        })
            Row("GET", $"{ledger}?cursor={cursor}", null, 400, "invalid_request", "cursor");

        // Usage report.
        var usage = $"/admin/accounts/{Acct}/usage";
        Row("GET", $"{usage}?group_by=week", null, 400, "invalid_request", "group_by");
        Row("GET", $"{usage}?group_by=Day", null, 400, "invalid_request", "group_by");
        foreach (var from in new[] { "2026-13-01", "yesterday", "2026-1-1", "" })
            Row("GET", $"{usage}?from={from}&to=2026-03-01", null, 400, "invalid_request", "from");
        Row("GET", $"{usage}?from=2026-02-01&to=2026-02-30", null, 400, "invalid_request", "to");
        Row("GET", $"{usage}?from=2026-03-02&to=2026-03-01", null, 400, "invalid_request", "to");
        Row("GET", $"{usage}?from=2024-01-01&to=2025-01-01", null, 400, "invalid_request", "to"); // 367 days

        // Unknown admin routes, and a known path with a method it does not have.
        Row("GET", "/admin", null, 404, "not_found", null);
        Row("GET", "/admin/nothing", null, 404, "not_found", null);
        Row("POST", $"/admin/accounts/{Acct}/refund", """{"amount_usd":5}""", 404, "not_found", null);
        Row("DELETE", $"/admin/accounts/{Acct}", null, 404, "not_found", null);
        return rows;
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Refused_AnswersInOpenAIShape_AndChangesNothing(
        string method, string path, string? body, string? contentType, string? idempotencyKey, int status, string code, string? param)
    {
        var account = await SeedAccountAsync();
        var before = await RedisStateAsync(account);
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace(Acct, account));
        if (body is not null) request.Content = new StringContent(body.Replace(Acct, account), Encoding.UTF8, contentType ?? "application/json");
        if (idempotencyKey is not null) request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);

        using var r = await _gw.Admin.SendAsync(request);

        var error = await AssertOpenAIErrorAsync(r, status, "invalid_request_error", code, param);
        AssertEchoesAtMost100Characters(error.GetProperty("message").GetString()!, body, path, idempotencyKey);
        // Nothing changed: no account, key, grant, ledger entry, limit or idempotency marker.
        Assert.Equal(before, await RedisStateAsync(account));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("a_b-c9")]
    [InlineData("9-")]
    [InlineData("x234567890123456789012345678901234567890123456789012345678901234")] // 64 characters
    public async Task CreateAccount_IdOfTheRule_IsAccepted(string id)
    {
        await _gw.CreateAccountAsync(id);

        Assert.Equal(id, (await _gw.GetAccountAsync(id)).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Body_OverTheAdminLimit_Gets413InOpenAIShape_AndAddsNothing()
    {
        var account = await SeedAccountAsync();
        var before = await RedisStateAsync(account);
        var body = $$"""{"amount_usd":5,"note":"{{new string('x', 70 * 1024)}}"}""";

        using var r = await _gw.Admin.PostAsync($"/admin/accounts/{account}/credits", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertOpenAIErrorAsync(r, 413, "invalid_request_error", "request_too_large", null);
        Assert.Equal(before, await RedisStateAsync(account));
    }

    [Fact]
    public async Task UnknownAdminRoute_WithoutTheAdminToken_Gets401()
    {
        using var client = new HttpClient { BaseAddress = new Uri(_gw.BaseUrl) };

        using var r = await client.GetAsync("/admin/nothing");

        await AssertOpenAIErrorAsync(r, 401, "invalid_request_error", "invalid_admin_token", null);
    }

    [Theory]
    [InlineData("0-0")]
    [InlineData("18446744073709551615-18446744073709551614")]
    [InlineData("18446744073709551614-18446744073709551615")]
    [InlineData("18446744073709551615-0")]
    public async Task Ledger_CursorAtTheEdgesOfTheIdRange_IsAnswered(string cursor)
    {
        var account = await SeedAccountAsync();

        using var r = await _gw.Admin.GetAsync($"/admin/accounts/{account}/ledger?limit=1000&cursor={cursor}");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var page = await r.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(cursor == "0-0" ? 1 : 0, page.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Limits_OnlyOneGiven_ReplacesBoth_SoItCannotConflictWithTheStoredOne()
    {
        var account = await SeedAccountAsync(); // hard 100, soft 50

        await _gw.PutAsync($"/admin/accounts/{account}/limits", new { soft_limit_usd = 500 });

        var view = await _gw.GetAccountAsync(account);
        Assert.Equal(JsonValueKind.Null, view.GetProperty("hard_limit_usd").ValueKind);
        Assert.Equal(500m, view.GetProperty("soft_limit_usd").GetDecimal());
    }

    [Fact]
    public async Task Limits_SoftEqualToHard_IsAccepted()
    {
        var account = await SeedAccountAsync();

        await _gw.PutAsync($"/admin/accounts/{account}/limits", new { hard_limit_usd = 20, soft_limit_usd = 20 });

        Assert.Equal(20m, (await _gw.GetAccountAsync(account)).GetProperty("soft_limit_usd").GetDecimal());
    }

    // Idempotency-Key: the marker stores a fingerprint of amount, requested expiry and source.

    [Fact]
    public async Task TopUp_SameKeySameBody_Replays_AndBalanceUnchanged()
    {
        var account = await NewAccountAsync();
        var body = new { amount_usd = 20, expires_at = Future, source = "promo" };

        var first = await TopUpAsync(account, "same-1", body);
        var again = await TopUpAsync(account, "same-1", body);

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.False(first.Replayed);
        Assert.Equal(HttpStatusCode.Created, again.Status);
        Assert.True(again.Replayed);
        Assert.Equal(first.Json.GetProperty("grant_id").GetString(), again.Json.GetProperty("grant_id").GetString());
        Assert.Equal(20_000_000, await _gw.BalanceMicrosAsync(account));
        Assert.Single(await _gw.LedgerAsync(account));
    }

    [Fact]
    public async Task TopUp_SameKeyDifferentAmount_Gets422_AndBalanceUnchanged()
    {
        var account = await NewAccountAsync();
        await TopUpAsync(account, "amt-1", new { amount_usd = 20 });

        var reused = await TopUpAsync(account, "amt-1", new { amount_usd = 500 });

        Assert.Equal((HttpStatusCode)422, reused.Status);
        Assert.False(reused.Replayed);
        AssertIdempotencyKeyReused(reused.Json);
        Assert.Equal(20_000_000, await _gw.BalanceMicrosAsync(account));
        Assert.Single(await _gw.LedgerAsync(account));
        // The refusal leaves the marker as it was: the first request still replays.
        Assert.True((await TopUpAsync(account, "amt-1", new { amount_usd = 20 })).Replayed);
    }

    [Fact]
    public async Task TopUp_SameKeyDifferentSource_Gets422()
    {
        var account = await NewAccountAsync();
        await TopUpAsync(account, "src-1", new { amount_usd = 20, source = "manual" });

        var reused = await TopUpAsync(account, "src-1", new { amount_usd = 20, source = "promo" });

        Assert.Equal((HttpStatusCode)422, reused.Status);
        AssertIdempotencyKeyReused(reused.Json);
        Assert.Equal(20_000_000, await _gw.BalanceMicrosAsync(account));
    }

    [Theory]
    [InlineData(null, Future)]
    [InlineData(Future, null)]
    [InlineData(Future, "2098-01-01T00:00:00Z")]
    public async Task TopUp_SameKeyDifferentExpiry_Gets422(string? firstExpiry, string? secondExpiry)
    {
        var account = await NewAccountAsync();
        await TopUpAsync(account, "exp-1", new { amount_usd = 20, expires_at = firstExpiry });

        var reused = await TopUpAsync(account, "exp-1", new { amount_usd = 20, expires_at = secondExpiry });

        Assert.Equal((HttpStatusCode)422, reused.Status);
        AssertIdempotencyKeyReused(reused.Json);
        Assert.Single((await _gw.GetAccountAsync(account)).GetProperty("grants").EnumerateArray());
    }

    [Fact]
    public async Task TopUp_SameExpiryWrittenDifferently_Replays()
    {
        var account = await NewAccountAsync();
        await TopUpAsync(account, "iso-1", new { amount_usd = 20.0, expires_at = "2099-01-01T01:00:00+01:00" });

        Assert.True((await TopUpAsync(account, "iso-1", new { amount_usd = 20, expires_at = Future })).Replayed);
    }

    [Fact]
    public async Task TopUp_SourceOmittedThenManual_Replays_BecauseManualIsTheDefault()
    {
        var account = await NewAccountAsync();
        await TopUpAsync(account, "dflt-1", new { amount_usd = 20 });

        Assert.True((await TopUpAsync(account, "dflt-1", new { amount_usd = 20, source = "manual" })).Replayed);
        Assert.Equal(20_000_000, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task TopUp_WithoutExpiry_ReplaysAfterTheClockMoved()
    {
        // The grant's expiry is computed from now when none is asked for; the fingerprint uses the request's (none).
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gw = await GatewayHost.StartAsync(_redis, clock: clock);
        var account = "idem-clock-" + Guid.NewGuid().ToString("N")[..8];
        await gw.CreateAccountAsync(account);
        await gw.AddCreditsAsync(account, 20m, idempotencyKey: "clock-1");

        clock.Advance(TimeSpan.FromHours(1));
        await gw.AddCreditsAsync(account, 20m, idempotencyKey: "clock-1");

        Assert.Equal(20_000_000, await gw.BalanceMicrosAsync(account));
        Assert.Single((await gw.GetAccountAsync(account)).GetProperty("grants").EnumerateArray());
    }

    [Fact]
    public async Task TopUp_SameKeyOnAnotherAccount_IsAnotherTopUp()
    {
        var (a, b) = (await NewAccountAsync(), await NewAccountAsync());
        await TopUpAsync(a, "shared-1", new { amount_usd = 20 });

        var other = await TopUpAsync(b, "shared-1", new { amount_usd = 30 });

        Assert.Equal(HttpStatusCode.Created, other.Status);
        Assert.False(other.Replayed);
        Assert.Equal(30_000_000, await _gw.BalanceMicrosAsync(b));
    }

    [Fact]
    public async Task TopUp_MarkerWrittenBeforeFingerprints_StillReplays()
    {
        var account = await NewAccountAsync();
        var first = await TopUpAsync(account, "legacy-1", new { amount_usd = 20 });
        var grantId = first.Json.GetProperty("grant_id").GetString()!;
        // The marker as the previous version wrote it: the grant id alone (markers live a week).
        var db = _probe.GetDatabase();
        var marker = $"{{acct:{account}}}:idem:legacy-1";
        Assert.StartsWith(grantId + "|", (string)(await db.StringGetAsync(marker))!);
        await db.StringSetAsync(marker, grantId, TimeSpan.FromDays(7));

        var again = await TopUpAsync(account, "legacy-1", new { amount_usd = 500 });

        Assert.True(again.Replayed);
        Assert.Equal(grantId, again.Json.GetProperty("grant_id").GetString());
        Assert.Equal(20_000_000, await _gw.BalanceMicrosAsync(account));
    }

    private async Task<string> NewAccountAsync()
    {
        var account = "idem-" + Guid.NewGuid().ToString("N")[..8];
        await _gw.CreateAccountAsync(account);
        return account;
    }

    /// <summary>An account with something in every part a refused call could touch: a grant, limits, auto-recharge, a key.</summary>
    private async Task<string> SeedAccountAsync()
    {
        var account = "val-" + Guid.NewGuid().ToString("N")[..8];
        await _gw.CreateAccountAsync(account);
        await _gw.AddCreditsAsync(account, 10m, idempotencyKey: "seed");
        await _gw.PutAsync($"/admin/accounts/{account}/limits", new { hard_limit_usd = 100, soft_limit_usd = 50 });
        await _gw.PutAsync($"/admin/accounts/{account}/auto-recharge", new { enabled = true, threshold_usd = 5, amount_usd = 10, monthly_limit_usd = 50, mode = "internal" });
        await _gw.CreateKeyAsync(account);
        return account;
    }

    private async Task<(HttpStatusCode Status, bool Replayed, JsonElement Json)> TopUpAsync(string account, string idempotencyKey, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/admin/accounts/{account}/credits") { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        using var r = await _gw.Admin.SendAsync(request);
        var replayed = r.Headers.TryGetValues("Idempotent-Replayed", out var values) && values.Single() == "true";
        return (r.StatusCode, replayed, await r.Content.ReadFromJsonAsync<JsonElement>());
    }

    private static void AssertIdempotencyKeyReused(JsonElement json)
    {
        var error = json.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("idempotency_key_reused", error.GetProperty("code").GetString());
        Assert.Contains("different request", error.GetProperty("message").GetString());
    }

    /// <summary>OpenAI's shape, exactly: {"error":{"message","type","param","code"}}. Returns the error object.</summary>
    private static async Task<JsonElement> AssertOpenAIErrorAsync(HttpResponseMessage r, int status, string type, string code, string? param)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(status == (int)r.StatusCode, $"expected {status}, got {(int)r.StatusCode}: {text}");
        Assert.Equal("application/json", r.Content.Headers.ContentType?.MediaType);
        var json = JsonDocument.Parse(text).RootElement;
        Assert.Equal(new[] { "error" }, json.EnumerateObject().Select(p => p.Name));
        var error = json.GetProperty("error");
        Assert.Equal(new[] { "code", "message", "param", "type" }, error.EnumerateObject().Select(p => p.Name).Order());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        if (param is null) Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        else Assert.Equal(param, error.GetProperty("param").GetString());
        return error;
    }

    private static void AssertEchoesAtMost100Characters(string message, params string?[] inputs)
    {
        foreach (var input in inputs)
        {
            for (var i = 0; input is not null && i + 101 <= input.Length; i++)
                Assert.DoesNotContain(input.Substring(i, 101), message);
        }
    }

    /// <summary>
    /// The name of every key in the test Redis, then the content (TTL aside) of the account's keys and of the global
    /// directories: equal before and after means the call created, changed or removed nothing.
    /// </summary>
    private async Task<string> RedisStateAsync(string account)
    {
        var db = _probe.GetDatabase();
        var names = _probe.GetServer(_redis.Configuration).Keys(pattern: "*").Select(k => (string)k!).Order(StringComparer.Ordinal).ToList();
        var state = new StringBuilder().AppendJoin('\n', names).AppendLine();
        foreach (var key in names.Where(k => k.StartsWith("{acct:" + account + "}", StringComparison.Ordinal) || k.StartsWith("tg:", StringComparison.Ordinal)))
        {
            // NOTE: TYPE as text: this StackExchange.Redis predates streams (its RedisType has no Stream).
            var type = (string)(await db.ExecuteAsync("TYPE", key))!;
            state.Append(key).Append(' ').Append(type).Append(": ");
            state.AppendJoin(", ", type switch
            {
                "hash" => (await db.HashGetAllAsync(key)).Select(e => $"{e.Name}={e.Value}").Order(StringComparer.Ordinal),
                "set" => (await db.SetMembersAsync(key)).Select(v => (string)v!).Order(StringComparer.Ordinal),
                "zset" => (await db.SortedSetRangeByRankWithScoresAsync(key)).Select(e => $"{e.Element}@{e.Score}"),
                "string" => [(string)(await db.StringGetAsync(key))!],
                "stream" => [await StreamDigestAsync(db, key)],
                _ => ["?"],
            });
            state.AppendLine();
        }
        return state.ToString();
    }

    /// <summary>A ledger stream's length and last id (entries are never edited, only added).</summary>
    private static async Task<string> StreamDigestAsync(IDatabase db, string key)
    {
        var length = (long)await db.ExecuteAsync("XLEN", key);
        var last = (RedisResult[])(await db.ExecuteAsync("XREVRANGE", key, "+", "-", "COUNT", "1"))!;
        return $"{length} entries, last {(last.Length == 0 ? "-" : (string)((RedisResult[])last[0]!)[0]!)}";
    }
}
