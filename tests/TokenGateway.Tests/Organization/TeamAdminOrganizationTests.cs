using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Organization;

/// <summary>
/// OpenAI's Usage and Costs APIs read with a team admin key: its own account without the OpenAI-Organization header
/// (the same numbers the admin token reads for that account), 403 admin_scope when the header names another account,
/// 401 once the key is revoked.
/// </summary>
public sealed class TeamAdminOrganizationTests(RedisServer redis) : IClassFixture<RedisServer>
{
    // gpt-4o with 40 prompt and 1,000 completion tokens: 40 × $2.50/M + 1,000 × $10/M = 10,100 micro-USD a request.
    private const long RequestCost = 10_100;

    private static async Task<HttpResponseMessage> GetAsync(GatewayHost gw, string url, string bearer, string? organization = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new("Bearer", bearer);
        if (organization is not null) request.Headers.Add("OpenAI-Organization", organization);
        return await gw.Http.SendAsync(request);
    }

    private static async Task<string> ErrorCodeAsync(HttpResponseMessage r) =>
        (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString()!;

    private static IEnumerable<JsonElement> Results(JsonElement page) =>
        page.GetProperty("data").EnumerateArray().SelectMany(b => b.GetProperty("results").EnumerateArray());

    [Fact]
    public async Task TeamAdminKey_ReadsOwnUsageAndCostsWithoutTheHeader_IsRefusedAnotherAccount_AndIsRefusedOnceRevoked()
    {
        await using var gw = await GatewayHost.StartAsync(redis);
        var own = "own-" + Guid.NewGuid().ToString("N")[..8];
        var other = "other-" + Guid.NewGuid().ToString("N")[..8];
        foreach (var account in new[] { own, other })
        {
            await gw.CreateAccountAsync(account);
            await gw.AddCreditsAsync(account, 10m);
        }
        gw.Upstream.Options.PromptTokens = 40;
        gw.Upstream.Options.CompletionTokens = 1000;
        const string chat = """{"model":"gpt-4o","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}""";
        var (_, ownKey) = await gw.CreateKeyAsync(own);
        var (_, otherKey) = await gw.CreateKeyAsync(other);
        for (var i = 0; i < 2; i++) Assert.Equal(HttpStatusCode.OK, (await gw.PostAsync(ownKey, "/v1/chat/completions", chat)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gw.PostAsync(otherKey, "/v1/chat/completions", chat)).StatusCode);
        var created = await (await gw.Admin.PostAsJsonAsync($"/admin/accounts/{own}/admin-keys", new { name = "lead" })).Content.ReadFromJsonAsync<JsonElement>();
        var teamKey = created.GetProperty("key").GetString()!;
        var start = DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeSeconds();
        var costsUrl = $"/v1/organization/costs?start_time={start}";
        var usageUrl = $"/v1/organization/usage/completions?start_time={start}&bucket_width=1d";

        // Its own account, no OpenAI-Organization header: exactly its two requests, not the other account's one.
        using var costs = await GetAsync(gw, costsUrl, teamKey);
        Assert.Equal(HttpStatusCode.OK, costs.StatusCode);
        var costsPage = await costs.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2 * RequestCost / 1_000_000m, Results(costsPage).Sum(r => r.GetProperty("amount").GetProperty("value").GetDecimal()));
        using var usage = await GetAsync(gw, usageUrl, teamKey);
        Assert.Equal(HttpStatusCode.OK, usage.StatusCode);
        var usagePage = await usage.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, Results(usagePage).Sum(r => r.GetProperty("num_model_requests").GetInt64()));
        Assert.Equal(80, Results(usagePage).Sum(r => r.GetProperty("input_tokens").GetInt64()));
        Assert.Equal(2000, Results(usagePage).Sum(r => r.GetProperty("output_tokens").GetInt64()));
        // The same answers the admin token gets naming that account, and the team key naming its own account.
        foreach (var (url, expected) in new[] { (costsUrl, costsPage), (usageUrl, usagePage) })
        {
            using var asPlatform = await GetAsync(gw, url, GatewayHost.AdminToken, own);
            Assert.Equal(expected.GetRawText(), (await asPlatform.Content.ReadFromJsonAsync<JsonElement>()).GetRawText());
            using var named = await GetAsync(gw, url, teamKey, own);
            Assert.Equal(expected.GetRawText(), (await named.Content.ReadFromJsonAsync<JsonElement>()).GetRawText());
        }

        // Another account named in the header: 403 admin_scope, and nothing of that account.
        foreach (var url in new[] { costsUrl, usageUrl })
        {
            using var r = await GetAsync(gw, url, teamKey, other);
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            var body = await r.Content.ReadAsStringAsync();
            Assert.Equal("admin_scope", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.DoesNotContain("0.0101", body, StringComparison.Ordinal);
        }

        // Revoked: 401, with or without the header.
        (await gw.Admin.DeleteAsync($"/admin/admin-keys/{created.GetProperty("id").GetString()}")).EnsureSuccessStatusCode();
        foreach (var organization in new[] { null, own })
        {
            using var r = await GetAsync(gw, costsUrl, teamKey, organization);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Equal("invalid_admin_token", await ErrorCodeAsync(r));
        }
    }
}
