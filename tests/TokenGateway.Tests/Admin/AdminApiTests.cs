using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Admin;

public sealed class AdminApiTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private GatewayHost _gw = null!;

    public async Task InitializeAsync() => _gw = await GatewayHost.StartAsync(redis);

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private static string NewAccount() => "adm-" + Guid.NewGuid().ToString("N")[..8];

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-token")]
    [InlineData("test-admin-token-012345678")]
    public async Task WithoutTheAdminToken_Gets401(string? token)
    {
        using var client = new HttpClient { BaseAddress = new Uri(_gw.BaseUrl) };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new("Bearer", token);

        var r = await client.PostAsJsonAsync("/admin/accounts", new { id = NewAccount() });

        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.DoesNotContain(GatewayHost.AdminToken, await r.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AdminApi_IsOff_WhenNoTokenIsConfigured()
    {
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Admin:Token"] = "" });

        var r = await gw.Admin.PostAsJsonAsync("/admin/accounts", new { id = NewAccount() });

        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
    }

    [Fact]
    public async Task TopUp_ReplayedFiveTimesWithOneIdempotencyKey_AddsOnce()
    {
        var account = NewAccount();
        await _gw.CreateAccountAsync(account);

        for (var i = 0; i < 5; i++) await _gw.AddCreditsAsync(account, 20m, idempotencyKey: "topup-42");

        var view = await _gw.GetAccountAsync(account);
        Assert.Equal(20_000_000, view.GetProperty("balance_micros").GetInt64());
        Assert.Equal(20m, view.GetProperty("balance_usd").GetDecimal());
        Assert.Single(view.GetProperty("grants").EnumerateArray());
        Assert.Single(await _gw.LedgerAsync(account));
    }

    [Fact]
    public async Task TopUp_BelowTheMinimum_Gets400_AndAddsNothing()
    {
        var account = NewAccount();
        await _gw.CreateAccountAsync(account);

        var r = await _gw.Admin.PostAsJsonAsync($"/admin/accounts/{account}/credits", new { amount_usd = 4.99 });

        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal(0, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task Grant_DefaultsToOneYearExpiry()
    {
        var account = NewAccount();
        await _gw.CreateAccountAsync(account);
        await _gw.AddCreditsAsync(account, 5m);

        var grant = (await _gw.GetAccountAsync(account)).GetProperty("grants")[0];

        var created = grant.GetProperty("created_at").GetDateTimeOffset();
        Assert.Equal(created.AddDays(365), grant.GetProperty("expires_at").GetDateTimeOffset());
        Assert.Equal("manual", grant.GetProperty("source").GetString());
    }

    [Fact]
    public async Task Key_IsShownOnlyAtCreation_AndStoredAsHash()
    {
        var account = NewAccount();
        await _gw.CreateAccountAsync(account);
        var (keyId, key) = await _gw.CreateKeyAsync(account);

        Assert.StartsWith("tg-", key);
        Assert.StartsWith("key_", keyId);
        Assert.DoesNotContain(key, (await _gw.GetAccountAsync(account)).ToString());
        using var probe = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var server = probe.GetServer(redis.Configuration);
        foreach (var redisKey in server.Keys(pattern: "*"))
        {
            Assert.DoesNotContain(key, (string)redisKey!);
            if (probe.GetDatabase().KeyType(redisKey) == StackExchange.Redis.RedisType.Hash)
                Assert.DoesNotContain(probe.GetDatabase().HashGetAll(redisKey), e => ((string?)e.Value ?? "").Contains(key) || ((string?)e.Name ?? "").Contains(key));
        }
    }

    [Fact]
    public async Task UnknownAccount_Gets404_AndDuplicateAccount_Gets409()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await _gw.Admin.GetAsync("/admin/accounts/nobody-here")).StatusCode);
        var account = NewAccount();
        await _gw.CreateAccountAsync(account);
        Assert.Equal(HttpStatusCode.Conflict, (await _gw.Admin.PostAsJsonAsync("/admin/accounts", new { id = account })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _gw.Admin.PostAsJsonAsync("/admin/accounts", new { id = "bad{tag}" })).StatusCode);
    }

    [Fact]
    public async Task Ledger_PagesWithACursor_InOrder()
    {
        var account = NewAccount();
        await _gw.CreateAccountAsync(account);
        for (var i = 0; i < 7; i++) await _gw.AddCreditsAsync(account, 5m + i);

        var all = await _gw.LedgerAsync(account, pageSize: 3);

        Assert.Equal(7, all.Count);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => (5 + i) * 1_000_000L), all.Select(e => e.GetProperty("amount_micros").GetInt64()));
        Assert.Equal(all.Sum(e => e.GetProperty("amount_micros").GetInt64()), await _gw.BalanceMicrosAsync(account));
    }
}
