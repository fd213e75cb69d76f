using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Organization;

/// <summary>
/// OpenAI's Usage and Costs APIs after known traffic over minutes, hours and days, three projects, three keys and
/// three models: every number is compared with the ledger, for each group_by and bucket width, through every page.
/// </summary>
public sealed class OrganizationApiTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 10, 15, 30, TimeSpan.Zero);
    private static readonly DateTimeOffset DayStart = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _clock = new(T0);
    private GatewayHost _gw = null!;
    private string _account = "";

    public async Task InitializeAsync()
    {
        _gw = await GatewayHost.StartAsync(redis, clock: _clock);
        _account = "org-" + Guid.NewGuid().ToString("N")[..8];
        await _gw.CreateAccountAsync(_account);
        await _gw.AddCreditsAsync(_account, 50m);
        foreach (var p in new[] { "alpha", "beta" })
            (await _gw.Admin.PostAsJsonAsync($"/admin/accounts/{_account}/projects", new { id = p })).EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private async Task TrafficAsync()
    {
        var (_, alpha) = await _gw.CreateKeyAsync(_account, new { name = "a", project = "alpha" });
        var (_, beta) = await _gw.CreateKeyAsync(_account, new { name = "b", project = "beta" });
        var (_, plain) = await _gw.CreateKeyAsync(_account);
        async Task Chat(string key, string model, int prompt, int cached, int completion)
        {
            _gw.Upstream.Options.PromptTokens = prompt;
            _gw.Upstream.Options.CachedTokens = cached;
            _gw.Upstream.Options.CompletionTokens = completion;
            var body = $$"""{"model":"{{model}}","max_tokens":2000,"messages":[{"role":"user","content":"go"}]}""";
            using var r = await _gw.PostAsync(key, "/v1/chat/completions", body);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        async Task Embed(string key, int prompt)
        {
            _gw.Upstream.Options.PromptTokens = prompt;
            using var r = await _gw.PostAsync(key, "/v1/embeddings", """{"model":"text-embedding-3-small","input":"hello"}""");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        // Minute 10:15, minute 10:16, hour 11, and the next day.
        await Chat(alpha, "gpt-4o", 40, 0, 1000);
        await Chat(alpha, "gpt-4o-mini", 1200, 1024, 30);
        await Chat(beta, "gpt-4o", 77, 0, 5);
        await Embed(plain, 9);
        _clock.Advance(TimeSpan.FromSeconds(40));
        await Chat(beta, "gpt-4o-mini", 300, 0, 300);
        await Chat(plain, "gpt-4o", 11, 0, 7);
        _clock.Advance(TimeSpan.FromHours(1));
        await Chat(alpha, "gpt-4o", 2048, 1536, 64);
        await Embed(alpha, 100);
        _clock.Advance(TimeSpan.FromDays(1));
        await Chat(beta, "gpt-4o", 5, 0, 5);
        await Chat(plain, "gpt-4o-mini", 6, 0, 6);
        await Embed(beta, 3);
    }

    private async Task<HttpResponseMessage> GetAsync(string url, string? organization = "__account", bool admin = true)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (admin) request.Headers.Authorization = new("Bearer", GatewayHost.AdminToken);
        if (organization is not null) request.Headers.Add("OpenAI-Organization", organization == "__account" ? _account : organization);
        return await _gw.Http.SendAsync(request);
    }

    /// <summary>Every bucket of every page, following next_page.</summary>
    private async Task<List<JsonElement>> BucketsAsync(string url)
    {
        var buckets = new List<JsonElement>();
        string? page = null;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 10, "too many pages");
            using var r = await GetAsync(url + (page is null ? "" : "&page=" + page));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var json = await r.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("page", json.GetProperty("object").GetString());
            buckets.AddRange(json.GetProperty("data").EnumerateArray());
            if (!json.GetProperty("has_more").GetBoolean())
            {
                Assert.Equal(JsonValueKind.Null, json.GetProperty("next_page").ValueKind);
                return buckets;
            }
            page = json.GetProperty("next_page").GetString();
        }
    }

    private static long Unix(DateTimeOffset t) => t.ToUnixTimeSeconds();

    private static DateTimeOffset Snap(DateTimeOffset t, TimeSpan width) => new(t.UtcTicks - t.UtcTicks % width.Ticks, TimeSpan.Zero);

    private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long Long(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetInt64() : 0;

    [Fact]
    public async Task UsageAndCosts_MatchTheLedger_ForEveryGroupByAndBucketWidth_ThroughEveryPage()
    {
        await TrafficAsync();
        var debits = (await _gw.LedgerAsync(_account)).Where(e => e.GetProperty("type").GetString() == "debit").ToList();
        Assert.Equal(11, debits.Count);
        var end = Unix(DayStart.AddDays(2));

        string[][] groupings = [[], ["project_id"], ["api_key_id"], ["model"], ["project_id", "api_key_id", "model"]];
        foreach (var (width, span, limit) in new[] { ("1m", TimeSpan.FromMinutes(1), 1000), ("1h", TimeSpan.FromHours(1), 24), ("1d", TimeSpan.FromDays(1), 7) })
        foreach (var embeddings in new[] { false, true })
        foreach (var groups in groupings)
        {
            // 1m: the minute counters are kept 48 h, so minutes from 10:00 on the first day to the end (two pages of 1,000).
            var start = width == "1m" ? Unix(DayStart.AddHours(10)) : Unix(DayStart);
            var url = $"/v1/organization/usage/{(embeddings ? "embeddings" : "completions")}?start_time={start}&end_time={end}&bucket_width={width}&limit={limit}"
                + string.Concat(groups.Select(g => "&group_by=" + g));
            var buckets = await BucketsAsync(url);
            Assert.Equal((end - start) / (long)span.TotalSeconds, buckets.Count);
            Assert.All(buckets, b => Assert.Equal((long)span.TotalSeconds, b.GetProperty("end_time").GetInt64() - b.GetProperty("start_time").GetInt64()));

            string Key(long bucket, string? project, string? key, string? model) => $"{bucket}|{project}|{key}|{model}";
            var expected = debits
                .Where(d => (d.GetProperty("model").GetString() == "text-embedding-3-small") == embeddings)
                .GroupBy(d => Key(Unix(Snap(d.GetProperty("created_at").GetDateTimeOffset(), span)),
                    groups.Contains("project_id") ? d.GetProperty("project_id").GetString() : null,
                    groups.Contains("api_key_id") ? d.GetProperty("key_id").GetString() : null,
                    groups.Contains("model") ? d.GetProperty("model").GetString() : null))
                .ToDictionary(g => g.Key, g => (Requests: g.LongCount(), Input: g.Sum(d => Long(d, "input_tokens")),
                    Cached: g.Sum(d => Long(d, "cached_tokens")), Output: g.Sum(d => Long(d, "output_tokens"))));
            var actual = buckets.SelectMany(b => b.GetProperty("results").EnumerateArray().Select(r => (Bucket: b.GetProperty("start_time").GetInt64(), Result: r)))
                .ToDictionary(x => Key(x.Bucket, Text(x.Result, "project_id"), Text(x.Result, "api_key_id"), Text(x.Result, "model")), x => x.Result);

            Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
            foreach (var (key, e) in expected)
            {
                var a = actual[key];
                Assert.Equal(embeddings ? "organization.usage.embeddings.result" : "organization.usage.completions.result", a.GetProperty("object").GetString());
                Assert.Equal(e.Requests, a.GetProperty("num_model_requests").GetInt64());
                Assert.Equal(e.Input, a.GetProperty("input_tokens").GetInt64());
                if (embeddings) continue;
                Assert.Equal(e.Cached, a.GetProperty("input_cached_tokens").GetInt64());
                Assert.Equal(e.Output, a.GetProperty("output_tokens").GetInt64());
                Assert.Equal(JsonValueKind.Null, a.GetProperty("user_id").ValueKind);
            }
        }

        string[][] costGroupings = [[], ["project_id"], ["api_key_id"], ["line_item"], ["project_id", "line_item"]];
        foreach (var groups in costGroupings)
        {
            var url = $"/v1/organization/costs?start_time={Unix(DayStart)}&end_time={end}&limit=1" + string.Concat(groups.Select(g => "&group_by=" + g));
            var buckets = await BucketsAsync(url); // limit=1: one day a page, so two pages
            Assert.Equal(2, buckets.Count);
            var byLine = groups.Contains("line_item");
            var expected = new Dictionary<string, decimal>();
            foreach (var d in debits)
            {
                var day = Unix(Snap(d.GetProperty("created_at").GetDateTimeOffset(), TimeSpan.FromDays(1)));
                var project = groups.Contains("project_id") ? d.GetProperty("project_id").GetString() : null;
                var key = groups.Contains("api_key_id") ? d.GetProperty("key_id").GetString() : null;
                if (!byLine)
                {
                    var k = $"{day}|{project}|{key}|";
                    expected[k] = expected.GetValueOrDefault(k) - d.GetProperty("amount_micros").GetInt64() / 1_000_000m;
                    continue;
                }
                foreach (var line in d.GetProperty("line_items").EnumerateArray())
                {
                    var k = $"{day}|{project}|{key}|{d.GetProperty("model").GetString()}, {line.GetProperty("line_item").GetString()}";
                    expected[k] = expected.GetValueOrDefault(k) + line.GetProperty("amount_usd").GetDecimal();
                }
            }
            var actual = buckets.SelectMany(b => b.GetProperty("results").EnumerateArray().Select(r => (Bucket: b.GetProperty("start_time").GetInt64(), Result: r)))
                .ToDictionary(x => $"{x.Bucket}|{Text(x.Result, "project_id")}|{Text(x.Result, "api_key_id")}|{Text(x.Result, "line_item")}", x => x.Result);
            Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
            foreach (var (key, value) in expected)
            {
                Assert.Equal("organization.costs.result", actual[key].GetProperty("object").GetString());
                Assert.Equal(value, actual[key].GetProperty("amount").GetProperty("value").GetDecimal());
                Assert.Equal("usd", actual[key].GetProperty("amount").GetProperty("currency").GetString());
            }
        }

        // Minute and hour counters are bounded: the hashes of the first minute and hour expire 48 hours and 35 days after their end.
        using (var probe = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Configuration))
        {
            // Set by the first settle of each, at T0 by the gateway's clock (the fake clock moved on since; Redis's did not).
            var now = T0;
            var minuteTtl = await probe.GetDatabase().KeyTimeToLiveAsync($"{{acct:{_account}}}:usage_m:202611201015");
            Assert.InRange(minuteTtl!.Value, new DateTimeOffset(2026, 11, 20, 10, 16, 0, TimeSpan.Zero).AddHours(48) - now - TimeSpan.FromSeconds(60), new DateTimeOffset(2026, 11, 20, 10, 16, 0, TimeSpan.Zero).AddHours(48) - now);
            var hourTtl = await probe.GetDatabase().KeyTimeToLiveAsync($"{{acct:{_account}}}:usage_h:2026112010");
            Assert.InRange(hourTtl!.Value, new DateTimeOffset(2026, 11, 20, 11, 0, 0, TimeSpan.Zero).AddDays(35) - now - TimeSpan.FromSeconds(60), new DateTimeOffset(2026, 11, 20, 11, 0, 0, TimeSpan.Zero).AddDays(35) - now);
        }

        // Filters: one project, one model.
        var filtered = await BucketsAsync($"/v1/organization/usage/completions?start_time={Unix(DayStart)}&end_time={end}&project_ids[]=alpha&models=gpt-4o&group_by=project_id,model");
        var rows = filtered.SelectMany(b => b.GetProperty("results").EnumerateArray()).ToList();
        Assert.Equal(2, rows.Sum(r => r.GetProperty("num_model_requests").GetInt64()));
        Assert.All(rows, r => Assert.Equal(("alpha", "gpt-4o"), (Text(r, "project_id"), Text(r, "model"))));
    }

    [Fact]
    public async Task OfficialSdk_WithTheOrganizationOption_ReadsCosts_AndBadRequestsAreRefusedInOpenAIsShape()
    {
        await TrafficAsync();
        var spent = -(await _gw.LedgerAsync(_account)).Where(e => e.GetProperty("type").GetString() == "debit").Sum(e => e.GetProperty("amount_micros").GetInt64());

        // The SDK's pipeline sends its own Authorization and OpenAI-Organization headers (the organization option).
        var client = _gw.OpenAI(GatewayHost.AdminToken, configure: o => o.OrganizationId = _account);
        using var message = client.Pipeline.CreateMessage();
        message.Request.Method = "GET";
        message.Request.Uri = new Uri($"{_gw.BaseUrl}/v1/organization/costs?start_time={Unix(DayStart)}&limit=2");
        await client.Pipeline.SendAsync(message);
        Assert.Equal(200, message.Response!.Status);
        var page = JsonDocument.Parse(message.Response.Content.ToString()).RootElement;
        var total = page.GetProperty("data").EnumerateArray().SelectMany(b => b.GetProperty("results").EnumerateArray())
            .Sum(r => r.GetProperty("amount").GetProperty("value").GetDecimal());
        Assert.Equal(spent / 1_000_000m, total);

        var start = Unix(DayStart);
        foreach (var (url, organization, admin, status, code) in new (string, string?, bool, HttpStatusCode, string)[]
        {
            ($"/v1/organization/costs?start_time={start}", "__account", false, HttpStatusCode.Unauthorized, "invalid_admin_token"),
            ($"/v1/organization/costs?start_time={start}", null, true, HttpStatusCode.BadRequest, "missing_organization"),
            ($"/v1/organization/costs?start_time={start}", "nobody-here", true, HttpStatusCode.NotFound, "organization_not_found"),
            ("/v1/organization/costs", "__account", true, HttpStatusCode.BadRequest, "invalid_request"),
            ($"/v1/organization/costs?start_time={start}&bucket_width=1h", "__account", true, HttpStatusCode.BadRequest, "invalid_request"),
            ($"/v1/organization/costs?start_time={start}&limit=181", "__account", true, HttpStatusCode.BadRequest, "invalid_request"),
            ($"/v1/organization/usage/completions?start_time={start}&bucket_width=1m&limit=1441", "__account", true, HttpStatusCode.BadRequest, "invalid_request"),
            ($"/v1/organization/usage/completions?start_time={start}&bucket_width=1d&limit=32", "__account", true, HttpStatusCode.BadRequest, "invalid_request"),
            ($"/v1/organization/usage/completions?start_time={start}&group_by=line_item", "__account", true, HttpStatusCode.BadRequest, "invalid_request"),
            ($"/v1/organization/usage/completions?start_time={start}&page=page_bogus", "__account", true, HttpStatusCode.BadRequest, "invalid_request"),
            ($"/v1/organization/usage/completions?start_time={start}&end_time={start}", "__account", true, HttpStatusCode.BadRequest, "invalid_request"),
            ("/v1/organization/usage/completions?start_time=99999999999999", "__account", true, HttpStatusCode.BadRequest, "invalid_request"),
            ("/v1/organization/usage/completions?start_time=-5", "__account", true, HttpStatusCode.BadRequest, "invalid_request"),
            ($"/v1/organization/usage/completions?start_time={start}&project_ids={string.Join(',', Enumerable.Range(0, 101))}", "__account", true, HttpStatusCode.BadRequest, "invalid_request"),
        })
        {
            using var r = await GetAsync(url, organization, admin);
            Assert.Equal(status, r.StatusCode);
            var error = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
            Assert.Equal(code, error.GetProperty("code").GetString());
        }

        // Defaults: 1d buckets, 7 of them a page from start_time; the end is now (the clock is a day and an hour past T0).
        using var defaults = await GetAsync($"/v1/organization/usage/completions?start_time={start}");
        var json = await defaults.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, json.GetProperty("data").GetArrayLength());
        Assert.False(json.GetProperty("has_more").GetBoolean());
        using var hours = await GetAsync($"/v1/organization/usage/completions?start_time={start}&bucket_width=1h");
        json = await hours.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(24, json.GetProperty("data").GetArrayLength());
        Assert.True(json.GetProperty("has_more").GetBoolean());
        Assert.StartsWith("page_", json.GetProperty("next_page").GetString());
    }
}
