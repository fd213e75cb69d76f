using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Admin;

/// <summary>
/// Team-scoped admin keys: their own account on the admin API only (403 elsewhere and on platform routes), never the
/// proxy, revocable; and the credit requests they send to the funding webhook (granted on approval, not on refusal).
/// </summary>
public sealed class TeamAdminKeyTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private WebhookReceiver _hooks = null!;
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _hooks = await WebhookReceiver.StartAsync();
        _gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string>
        {
            ["Billing:Webhooks:FundingUrl"] = _hooks.BaseUrl + "/funding",
            ["Billing:Webhooks:Secret"] = WebhookReceiver.Secret,
        });
    }

    public async Task DisposeAsync()
    {
        await _gw.DisposeAsync();
        await _hooks.DisposeAsync();
    }

    private static string NewAccount() => "team-" + Guid.NewGuid().ToString("N")[..8];

    private async Task<(string Id, HttpClient Client, string Secret)> TeamAdminAsync(string account)
    {
        var r = await _gw.Admin.PostAsJsonAsync($"/admin/accounts/{account}/admin-keys", new { name = "lead" });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var json = await r.Content.ReadFromJsonAsync<JsonElement>();
        var secret = json.GetProperty("key").GetString()!;
        Assert.StartsWith("tga-", secret, StringComparison.Ordinal);
        var client = new HttpClient { BaseAddress = new Uri(_gw.BaseUrl) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", secret);
        return (json.GetProperty("id").GetString()!, client, secret);
    }

    [Fact]
    public async Task TeamAdminKey_ManagesOwnAccountOnly()
    {
        string mine = NewAccount(), other = NewAccount();
        await _gw.CreateAccountAsync(mine);
        await _gw.CreateAccountAsync(other);
        var (otherKeyId, _) = await _gw.CreateKeyAsync(other);
        var (_, team, _) = await TeamAdminAsync(mine);
        using var _ = team;

        // Its own account: read, keys, limits, auto-recharge through the funding webhook.
        Assert.Equal(HttpStatusCode.OK, (await team.GetAsync($"/admin/accounts/{mine}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await team.GetAsync($"/admin/accounts/{mine}/ledger")).StatusCode);
        var key = await team.PostAsJsonAsync($"/admin/accounts/{mine}/keys", new { name = "svc" });
        Assert.Equal(HttpStatusCode.Created, key.StatusCode);
        var keyId = (await key.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.OK, (await team.PostAsync($"/admin/keys/{keyId}/rotate", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await team.PutAsJsonAsync($"/admin/accounts/{mine}/limits", new { hard_limit_usd = 100 })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await team.PutAsJsonAsync($"/admin/accounts/{mine}/auto-recharge",
            new { enabled = true, threshold_usd = 1, amount_usd = 10, monthly_limit_usd = 50, mode = "webhook" })).StatusCode);

        // Another account, its keys, and what only the platform admin may do: 403, and nothing changes.
        foreach (var r in new[]
        {
            await team.GetAsync($"/admin/accounts/{other}"),
            await team.GetAsync($"/admin/accounts/{other}/usage"),
            await team.PostAsJsonAsync($"/admin/accounts/{other}/keys", new { name = "x" }),
            await team.DeleteAsync($"/admin/keys/{otherKeyId}"),
            await team.DeleteAsync("/admin/keys/key_0000000000000000"),
            await team.PostAsJsonAsync($"/admin/accounts/{other}/credit-requests", new { amount_usd = 10 }),
            await team.PostAsJsonAsync("/admin/accounts", new { id = NewAccount() }),
            await team.PostAsJsonAsync($"/admin/accounts/{mine}/credits", new { amount_usd = 10 }),
            await team.PostAsJsonAsync($"/admin/accounts/{mine}/admin-keys", new { name = "another" }),
            await team.PutAsJsonAsync($"/admin/accounts/{mine}/auto-recharge",
                new { enabled = true, threshold_usd = 1, amount_usd = 10, monthly_limit_usd = 50, mode = "internal" }),
        })
        {
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            Assert.Equal("admin_scope", (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        }
        Assert.Equal(0, await _gw.BalanceMicrosAsync(mine));
        Assert.Equal("active", await KeyStatusAsync(other, otherKeyId));
        Assert.Equal("webhook", (await _gw.GetAccountAsync(mine)).GetProperty("auto_recharge").GetProperty("mode").GetString());
    }

    [Fact]
    public async Task TeamAdminKey_IsRefusedByTheProxy_AndRevocable()
    {
        var account = NewAccount();
        await _gw.CreateAccountAsync(account);
        await _gw.AddCreditsAsync(account, 10m);
        var (id, team, secret) = await TeamAdminAsync(account);
        using var _ = team;

        // Never a model call, whichever header carries it, and nothing held or charged.
        var bearer = await _gw.PostAsync(secret, "/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.Unauthorized, bearer.StatusCode);
        Assert.Equal("invalid_api_key", (await bearer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        using var viaHeader = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = JsonContent.Create(new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } }) };
        viaHeader.Headers.Add("api-key", secret);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _gw.Http.SendAsync(viaHeader)).StatusCode);
        Assert.Empty(_gw.Upstream.Requests);
        Assert.Equal(10_000_000, await _gw.BalanceMicrosAsync(account));

        // Revoked by the platform admin (only): refused on its next call.
        Assert.Equal(HttpStatusCode.Forbidden, (await team.DeleteAsync($"/admin/admin-keys/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gw.Admin.DeleteAsync($"/admin/admin-keys/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await team.GetAsync($"/admin/accounts/{account}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _gw.Admin.DeleteAsync($"/admin/admin-keys/{id}")).StatusCode);
    }

    [Fact]
    public async Task CreditRequest_IsGrantedWhenTheFundingWebhookApproves_AndNotWhenItRefuses()
    {
        var account = NewAccount();
        await _gw.CreateAccountAsync(account);
        var (_, team, _) = await TeamAdminAsync(account);
        using var _ = team;
        // The first request is approved (2xx), the second refused (402: the billing system's final answer).
        _hooks.Respond = (path, earlier) => earlier == 0 ? 200 : 402;

        Assert.Equal(HttpStatusCode.BadRequest, (await team.PostAsJsonAsync($"/admin/accounts/{account}/credit-requests", new { amount_usd = 4.99 })).StatusCode);
        var approved = await team.PostAsJsonAsync($"/admin/accounts/{account}/credit-requests", new { amount_usd = 12.5 });
        Assert.Equal(HttpStatusCode.Accepted, approved.StatusCode);
        await _hooks.WaitForAsync(r => r.Count(d => d.Path == "/funding") == 1);
        Assert.Equal(12_500_000, await _gw.BalanceMicrosAsync(account));
        var refused = await team.PostAsJsonAsync($"/admin/accounts/{account}/credit-requests", new { amount_usd = 30 });
        Assert.Equal(HttpStatusCode.Accepted, refused.StatusCode);
        await _hooks.WaitForAsync(r => r.Count(d => d.Path == "/funding") == 2);

        var requests = (await team.GetFromJsonAsync<JsonElement>($"/admin/accounts/{account}/credit-requests")).GetProperty("data").EnumerateArray()
            .ToDictionary(r => r.GetProperty("amount_micros").GetInt64(), r => r.GetProperty("status").GetString());
        Assert.Equal("approved", requests[12_500_000]);
        Assert.Equal("refused", requests[30_000_000]);
        Assert.Equal(12_500_000, await _gw.BalanceMicrosAsync(account));
        var grant = Assert.Single(await _gw.LedgerAsync(account));
        Assert.Equal("grant", grant.GetProperty("type").GetString());
        Assert.Equal("manual", grant.GetProperty("source").GetString());
        var body = _hooks.Received.First(d => d.Path == "/funding").Json;
        Assert.Equal("credit.requested", body.GetProperty("type").GetString());
        Assert.Equal(12.5m, body.GetProperty("data").GetProperty("amount_usd").GetDecimal());
    }

    private async Task<string?> KeyStatusAsync(string account, string keyId)
    {
        var db = (await ((TokenGateway.Redis.RedisConnector)_gw.Services.GetService(typeof(TokenGateway.Redis.RedisConnector))!).DatabaseAsync());
        return await db.HashGetAsync(new TokenGateway.Redis.AccountKeys(account).Key(keyId), "status");
    }
}
