using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenAI.Chat;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Billing;

public sealed class KeyAndReportTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero));
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Keys:RotationGraceSeconds"] = "3600" }, _clock);
        _gw.Upstream.Options.PromptTokens = 1000;
        _gw.Upstream.Options.CompletionTokens = 100;
    }

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private async Task<string> AccountAsync()
    {
        var account = "keys-" + Guid.NewGuid().ToString("N")[..8];
        await _gw.CreateAccountAsync(account);
        await _gw.AddCreditsAsync(account, 10m);
        return account;
    }

    private Task<ClientResult<ChatCompletion>> ChatAsync(string key, string model = "gpt-4o-mini") =>
        _gw.OpenAI(key).GetChatClient(model).CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 100 });

    [Fact]
    public async Task KeyBudget_RefusesTheRequestThatWouldCrossIt_NamingTheKeyBudget()
    {
        var account = await AccountAsync();
        // The mock reports the prompt's word count (1): 1*2.5 + 100*10 = 1,003 micro-USD a request, held as ~1,060
        // (local input count with margin + 100 output tokens). A $0.005 budget admits 4; the 5th would cross it.
        _gw.Upstream.Options.PromptTokens = null;
        var (_, key) = await _gw.CreateKeyAsync(account, new { name = "capped", monthly_limit_usd = 0.005 });
        var ok = 0;
        ClientResultException? refused = null;
        try
        {
            for (var i = 0; i < 8 && refused is null; i++)
            {
                try { await ChatAsync(key, "gpt-4o"); ok++; }
                catch (ClientResultException e) { refused = e; }
            }
        }
        finally
        {
            _gw.Upstream.Options.PromptTokens = 1000;
        }

        Assert.Equal(4, ok);
        Assert.Equal(429, refused!.Status);
        Assert.Contains("insufficient_quota", refused.Message);
        Assert.Contains("API key's monthly budget", refused.Message);
        Assert.Contains("api_key_spend_limit_exceeded", refused.Message);
        Assert.Equal(10_000_000 - 4 * 1003, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task ModelAllowlist_Admits_ListedModelsAndPrefixes_Refuses_Others403()
    {
        var account = await AccountAsync();
        var (_, key) = await _gw.CreateKeyAsync(account, new { name = "mini-only", models = new[] { "gpt-4o-mini", "gpt-4.1*" } });

        await ChatAsync(key, "gpt-4o-mini");
        await ChatAsync(key, "gpt-4.1-nano");
        var e = await Assert.ThrowsAsync<ClientResultException>(() => ChatAsync(key, "gpt-4o"));

        Assert.Equal(403, e.Status);
        Assert.Contains("model_not_allowed", e.Message);
    }

    [Fact]
    public async Task ExpiredKey_Gets401_FromItsExpiryOn()
    {
        var account = await AccountAsync();
        var (_, key) = await _gw.CreateKeyAsync(account, new { name = "temp", expires_at = _clock.GetUtcNow().AddHours(1) });
        await ChatAsync(key);

        _clock.Advance(TimeSpan.FromHours(1));

        var e = await Assert.ThrowsAsync<ClientResultException>(() => ChatAsync(key));
        Assert.Equal(401, e.Status);
    }

    [Fact]
    public async Task Rotation_NewSecretWorks_OldOneOnlyDuringGrace()
    {
        var account = await AccountAsync();
        var (keyId, oldKey) = await _gw.CreateKeyAsync(account);
        var rotated = await (await _gw.Admin.PostAsync($"/admin/keys/{keyId}/rotate", null)).Content.ReadFromJsonAsync<JsonElement>();
        var newKey = rotated.GetProperty("key").GetString()!;

        Assert.NotEqual(oldKey, newKey);
        await ChatAsync(newKey);
        await ChatAsync(oldKey);

        _clock.Advance(TimeSpan.FromSeconds(3601));
        await ChatAsync(newKey);
        Assert.Equal(401, (await Assert.ThrowsAsync<ClientResultException>(() => ChatAsync(oldKey))).Status);
    }

    [Fact]
    public async Task UsageReport_MatchesTheRequestsSent_ByModelDayAndKey()
    {
        var account = await AccountAsync();
        var (keyA, a) = await _gw.CreateKeyAsync(account);
        var (keyB, b) = await _gw.CreateKeyAsync(account);
        await ChatAsync(a, "gpt-4o-mini");
        await ChatAsync(a, "gpt-4o");
        _clock.Advance(TimeSpan.FromDays(1));
        await ChatAsync(b, "gpt-4o-mini");

        async Task<List<JsonElement>> Report(string groupBy) =>
            [.. (await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/accounts/{account}/usage?from=2026-11-21&to=2026-11-22&group_by={groupBy}"))
                .GetProperty("data").EnumerateArray()];

        var byModel = await Report("model");
        Assert.Equal(["gpt-4o", "gpt-4o-mini"], byModel.Select(r => r.GetProperty("model").GetString()));
        Assert.Equal([1L, 2L], byModel.Select(r => r.GetProperty("requests").GetInt64()));
        Assert.Equal([1000L, 2000L], byModel.Select(r => r.GetProperty("input_tokens").GetInt64()));
        Assert.Equal([100L, 200L], byModel.Select(r => r.GetProperty("output_tokens").GetInt64()));
        // gpt-4o 2,500 + 1,000; gpt-4o-mini 2 × (150 + 60)
        Assert.Equal([3500L, 420L], byModel.Select(r => r.GetProperty("cost_micros").GetInt64()));

        var byDay = await Report("day");
        Assert.Equal(["2026-11-21", "2026-11-22"], byDay.Select(r => r.GetProperty("day").GetString()));
        Assert.Equal([3710L, 210L], byDay.Select(r => r.GetProperty("cost_micros").GetInt64()));

        var byKey = (await Report("key")).ToDictionary(r => r.GetProperty("key_id").GetString()!, r => r.GetProperty("requests").GetInt64());
        Assert.Equal(2, byKey[keyA]);
        Assert.Equal(1, byKey[keyB]);
        Assert.Equal(10_000_000 - 3920, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task CreditGrants_ForKeyHolders_InOpenAIsLegacyShape()
    {
        var account = await AccountAsync();
        var (keyId, key) = await _gw.CreateKeyAsync(account);
        await ChatAsync(key);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/dashboard/billing/credit_grants");
        request.Headers.Authorization = new("Bearer", key);

        var summary = await (await _gw.Http.SendAsync(request)).Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal("credit_summary", summary.GetProperty("object").GetString());
        Assert.Equal(10m, summary.GetProperty("total_granted").GetDecimal());
        Assert.Equal(0.00021m, summary.GetProperty("total_used").GetDecimal());
        Assert.Equal(9.99979m, summary.GetProperty("total_available").GetDecimal());
        var grant = summary.GetProperty("grants").GetProperty("data")[0];
        Assert.Equal(0.00021m, grant.GetProperty("used_amount").GetDecimal());
        using var anonymous = new HttpRequestMessage(HttpMethod.Get, "/v1/dashboard/billing/credit_grants");
        Assert.Equal(HttpStatusCode.Unauthorized, (await _gw.Http.SendAsync(anonymous)).StatusCode);

        // A revoked key is refused here by the same rule as on the proxy.
        (await _gw.Admin.DeleteAsync($"/admin/keys/{keyId}")).EnsureSuccessStatusCode();
        using var revoked = new HttpRequestMessage(HttpMethod.Get, "/v1/dashboard/billing/credit_grants");
        revoked.Headers.Authorization = new("Bearer", key);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _gw.Http.SendAsync(revoked)).StatusCode);
    }
}
