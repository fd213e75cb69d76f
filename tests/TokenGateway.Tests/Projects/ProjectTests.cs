using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;
using TokenGateway.Redis;
using TokenGateway.Tests.Faults;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Projects;

/// <summary>Projects inside an account: their own monthly limits (enforced with their holds), the default project, archiving.</summary>
public sealed class ProjectTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Billing:MinimumTopUpUsd"] = "0.01" });
        // gpt-4o: 40 input tokens at $2.50/M + 1,000 output at $10/M = 10,100 micro-USD a request.
        _gw.Upstream.Options.PromptTokens = 40;
        _gw.Upstream.Options.CompletionTokens = 1000;
    }

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private const string Chat = """{"model":"gpt-4o","max_tokens":1000,"messages":[{"role":"user","content":"go"}]}""";

    private async Task<string> AccountAsync(decimal usd)
    {
        var account = "proj-" + Guid.NewGuid().ToString("N")[..8];
        await _gw.CreateAccountAsync(account);
        await _gw.AddCreditsAsync(account, usd);
        return account;
    }

    private async Task<HttpResponseMessage> CreateProjectAsync(string account, string id) =>
        await _gw.Admin.PostAsJsonAsync($"/admin/accounts/{account}/projects", new { id, name = "Project " + id });

    private async Task<JsonElement> ProjectAsync(string account, string id) =>
        (await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/accounts/{account}/projects")).GetProperty("data").EnumerateArray()
            .Single(p => p.GetProperty("id").GetString() == id);

    private static async Task<JsonElement> ErrorAsync(HttpResponseMessage r) => (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");

    [Fact]
    public async Task ProjectLimit_RefusesWithProjectSpendLimitExceeded_WhileAnotherProjectOfTheTeamKeepsWorking()
    {
        var account = await AccountAsync(100m);
        Assert.Equal(HttpStatusCode.Created, (await CreateProjectAsync(account, "alpha")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await CreateProjectAsync(account, "beta")).StatusCode);
        await _gw.PutAsync($"/admin/accounts/{account}/projects/alpha/limits", new { hard_limit_usd = 0.05 });
        var (_, alpha) = await _gw.CreateKeyAsync(account, new { name = "a", project = "alpha" });
        var (_, beta) = await _gw.CreateKeyAsync(account, new { name = "b", project = "beta" });

        // Each hold is about 10,200 µ$ (the input bound + 1,000 output tokens): $0.05 admits four of 10,100, the fifth's hold passes 9,600 left.
        var ok = 0;
        HttpResponseMessage refused;
        while ((refused = await _gw.PostAsync(alpha, "/v1/chat/completions", Chat)).StatusCode == HttpStatusCode.OK) ok++;

        Assert.Equal(4, ok);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("false", refused.Headers.GetValues("x-should-retry").Single());
        Assert.False(refused.Headers.Contains("Retry-After"));
        var error = await ErrorAsync(refused);
        Assert.Equal("insufficient_quota", error.GetProperty("type").GetString());
        Assert.Equal("project_spend_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Contains("Project 'alpha'", error.GetProperty("message").GetString());
        Assert.Contains("$0.0096", error.GetProperty("message").GetString()); // 50,000 − 4 × 10,100 = 9,600 µ$ left

        var metrics = await _gw.Http.GetStringAsync("/metrics");
        Assert.Equal(1, Telemetry.MetricsText.Value(metrics, "tokengateway_requests_total", ("account", account), ("model", "gpt-4o"), ("outcome", "project_limit")));

        // The other project of the same team is not affected, nor the account.
        for (var i = 0; i < 6; i++) Assert.Equal(HttpStatusCode.OK, (await _gw.PostAsync(beta, "/v1/chat/completions", Chat)).StatusCode);
        Assert.Equal(4 * 10_100, (await ProjectAsync(account, "alpha")).GetProperty("month_spend_micros").GetInt64());
        Assert.Equal(6 * 10_100, (await ProjectAsync(account, "beta")).GetProperty("month_spend_micros").GetInt64());
        Assert.Equal(10 * 10_100, (await _gw.GetAccountAsync(account)).GetProperty("month_spend_micros").GetInt64());

        // The ledger and the usage report carry the project.
        var debits = (await _gw.LedgerAsync(account)).Where(e => e.GetProperty("type").GetString() == "debit").ToList();
        Assert.Equal(4, debits.Count(d => d.GetProperty("project_id").GetString() == "alpha"));
        Assert.Equal(6, debits.Count(d => d.GetProperty("project_id").GetString() == "beta"));
        var report = await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/accounts/{account}/usage?group_by=project");
        var rows = report.GetProperty("data").EnumerateArray().ToDictionary(r => r.GetProperty("project_id").GetString()!, r => r);
        Assert.Equal(["alpha", "beta"], rows.Keys.Order());
        Assert.Equal(4, rows["alpha"].GetProperty("requests").GetInt64());
        Assert.Equal(6 * 10_100, rows["beta"].GetProperty("cost_micros").GetInt64());
        Assert.Equal(6 * 1000, rows["beta"].GetProperty("output_tokens").GetInt64());
    }

    [Fact]
    public async Task TwoHundredConcurrentRequests_AcrossTwoProjects_NeverExceedEitherProjectsLimitNorTheBalance()
    {
        _gw.Upstream.Options.CompletionTokens = 10_000; // 40 × 2.5 + 10,000 × 10 = 100,100 µ$ a request
        var account = await AccountAsync(1m);
        await CreateProjectAsync(account, "alpha");
        await CreateProjectAsync(account, "beta");
        await _gw.PutAsync($"/admin/accounts/{account}/projects/alpha/limits", new { hard_limit_usd = 0.35 });
        await _gw.PutAsync($"/admin/accounts/{account}/projects/beta/limits", new { hard_limit_usd = 0.9 });
        var (_, alpha) = await _gw.CreateKeyAsync(account, new { name = "a", project = "alpha" });
        var (_, beta) = await _gw.CreateKeyAsync(account, new { name = "b", project = "beta" });
        var body = """{"model":"gpt-4o","max_tokens":10000,"messages":[{"role":"user","content":"go"}]}""";
        using var client = new HttpClient(_gw.Settled(new SocketsHttpHandler { MaxConnectionsPerServer = 200 })) { BaseAddress = new Uri(_gw.BaseUrl) };

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", i % 2 == 0 ? alpha : beta);
            using var r = await client.SendAsync(request);
            var code = r.StatusCode == HttpStatusCode.OK ? null : (await ErrorAsync(r)).GetProperty("code").GetString();
            return (Project: i % 2 == 0 ? "alpha" : "beta", r.StatusCode, Code: code,
                Id: r.Headers.TryGetValues("x-tokengateway-request-id", out var ids) ? ids.Single() : null);
        }));

        Assert.All(results, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{r.StatusCode}"));
        var served = results.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
        var alphaServed = served.Count(r => r.Project == "alpha");
        var betaServed = served.Count(r => r.Project == "beta");
        // alpha: $0.35 pays three requests of $0.1001; the balance ($1) pays nine in all, whoever comes first.
        Assert.InRange(alphaServed, 1, 3);
        Assert.InRange(served.Count, 8, 9);
        Assert.True(alphaServed * 100_100 <= 350_000 && betaServed * 100_100 <= 900_000);
        Assert.All(results.Where(r => r.Code is not null), r => Assert.Contains(r.Code, new[] { "project_spend_limit_exceeded", "credit_balance_exhausted" }));
        Assert.Equal(alphaServed * 100_100L, (await ProjectAsync(account, "alpha")).GetProperty("month_spend_micros").GetInt64());
        Assert.Equal(betaServed * 100_100L, (await ProjectAsync(account, "beta")).GetProperty("month_spend_micros").GetInt64());
        Assert.Equal(0, (await ProjectAsync(account, "alpha")).GetProperty("held_micros").GetInt64());
        Assert.Equal(0, (await ProjectAsync(account, "beta")).GetProperty("held_micros").GetInt64());
        await BillingInvariant.AssertAsync(_gw, account, 0, [.. served.Select(r => r.Id!)], _ => 100_100);
    }

    [Fact]
    public async Task EveryQuotaRefusal_HasOpenAIsCodeForItsLimit_TypeInsufficientQuota_AndIsNotRetried()
    {
        var empty = await AccountAsync(0.01m);
        var (_, balanceKey) = await _gw.CreateKeyAsync(empty);
        var capped = await AccountAsync(10m);
        await _gw.PutAsync($"/admin/accounts/{capped}/limits", new { hard_limit_usd = 0 });
        var (_, orgKey) = await _gw.CreateKeyAsync(capped);
        var projected = await AccountAsync(10m);
        await CreateProjectAsync(projected, "p1");
        await _gw.PutAsync($"/admin/accounts/{projected}/projects/p1/limits", new { hard_limit_usd = 0 });
        var (_, projectKey) = await _gw.CreateKeyAsync(projected, new { name = "p", project = "p1" });
        var (_, budgetKey) = await _gw.CreateKeyAsync(projected, new { name = "k", monthly_limit_usd = 0 });
        var before = _gw.Upstream.Requests.Count;

        foreach (var (key, code, says) in new[]
        {
            (balanceKey, "credit_balance_exhausted", "credit balance"),
            (orgKey, "organization_spend_limit_exceeded", "monthly hard limit"),
            (projectKey, "project_spend_limit_exceeded", "Project 'p1'"),
            (budgetKey, "api_key_spend_limit_exceeded", "API key's monthly budget"),
        })
        {
            using var r = await _gw.PostAsync(key, "/v1/chat/completions", Chat);
            Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
            Assert.Equal("false", r.Headers.GetValues("x-should-retry").Single());
            var error = await ErrorAsync(r);
            Assert.Equal("insufficient_quota", error.GetProperty("type").GetString());
            Assert.Equal(code, error.GetProperty("code").GetString());
            Assert.Contains(says, error.GetProperty("message").GetString());
            Assert.Contains("You exceeded your current quota", error.GetProperty("message").GetString());
        }
        Assert.Equal(before, _gw.Upstream.Requests.Count);
    }

    [Fact]
    public async Task Projects_AdminRoutes_DefaultProject_AndArchivedProjectsKeys()
    {
        var account = await AccountAsync(10m);
        Assert.Equal(HttpStatusCode.Created, (await CreateProjectAsync(account, "web")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await CreateProjectAsync(account, "web")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await CreateProjectAsync(account, "default")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await CreateProjectAsync(account, "Bad Id")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await CreateProjectAsync("nobody-" + account, "web")).StatusCode);
        var list = await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/accounts/{account}/projects");
        Assert.Equal(["default", "web"], list.GetProperty("data").EnumerateArray().Select(p => p.GetProperty("id").GetString()));
        Assert.Equal("organization.project", (await ProjectAsync(account, "web")).GetProperty("object").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await _gw.Admin.PostAsJsonAsync($"/admin/accounts/{account}/keys", new { name = "x", project = "nope" })).StatusCode);
        // The account's limit rules (LimitsRules), with its errors.
        foreach (var (body, param) in new object[] { new { hard_limit_usd = 1, soft_limit_usd = 2 }, new { hard_limit_usd = -1 }, new { soft_limit_usd = 10.0000001m } }
            .Zip(new[] { "soft_limit_usd", "hard_limit_usd", "soft_limit_usd" }))
        {
            var refusedLimits = await _gw.Admin.PutAsJsonAsync($"/admin/accounts/{account}/projects/web/limits", body);
            Assert.Equal(HttpStatusCode.BadRequest, refusedLimits.StatusCode);
            Assert.Equal(param, (await refusedLimits.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("param").GetString());
        }
        Assert.Null((await ProjectAsync(account, "web")).GetProperty("hard_limit_usd").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await _gw.Admin.PutAsJsonAsync($"/admin/accounts/{account}/projects/nope/limits", new { hard_limit_usd = 1 })).StatusCode);

        // A key made before projects existed has no project field: it belongs to the default project.
        var (oldKeyId, oldKey) = await _gw.CreateKeyAsync(account);
        using (var probe = await ConnectionMultiplexer.ConnectAsync(redis.Configuration))
            await probe.GetDatabase().HashDeleteAsync(new AccountKeys(account).Key(oldKeyId), "project");
        Assert.Equal(HttpStatusCode.OK, (await _gw.PostAsync(oldKey, "/v1/chat/completions", Chat)).StatusCode);
        var (_, webKey) = await _gw.CreateKeyAsync(account, new { name = "w", project = "web" });
        Assert.Equal(HttpStatusCode.OK, (await _gw.PostAsync(webKey, "/v1/chat/completions", Chat)).StatusCode);
        var debits = (await _gw.LedgerAsync(account)).Where(e => e.GetProperty("type").GetString() == "debit").Select(d => d.GetProperty("project_id").GetString());
        Assert.Equal(["default", "web"], debits);

        // Archiving refuses the project's keys at once (and the default project cannot be archived).
        Assert.Equal(HttpStatusCode.BadRequest, (await _gw.Admin.DeleteAsync($"/admin/accounts/{account}/projects/default")).StatusCode);
        var archived = await _gw.Admin.DeleteAsync($"/admin/accounts/{account}/projects/web");
        Assert.Equal(HttpStatusCode.OK, archived.StatusCode);
        Assert.Equal("archived", (await archived.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await _gw.Admin.DeleteAsync($"/admin/accounts/{account}/projects/web")).StatusCode);
        using var refused = await _gw.PostAsync(webKey, "/v1/chat/completions", Chat);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _gw.Admin.PostAsJsonAsync($"/admin/accounts/{account}/keys", new { name = "x", project = "web" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gw.PostAsync(oldKey, "/v1/chat/completions", Chat)).StatusCode);
    }
}
