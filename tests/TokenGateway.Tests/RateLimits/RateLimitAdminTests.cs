using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.RateLimits;

/// <summary>The rate-limit admin routes of keys, accounts and projects: shown, replaced, removed, and validated strictly.</summary>
public sealed class RateLimitAdminTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private GatewayHost _gw = null!;

    public async Task InitializeAsync() => _gw = await GatewayHost.StartAsync(redis);

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private Task<HttpResponseMessage> PutRawAsync(string path, string json) =>
        _gw.Admin.PutAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    [Fact]
    public async Task Put_ReplacesTheLimits_NullRemovesOne_AndGetShowsThem()
    {
        var account = "rla-" + Guid.NewGuid().ToString("N")[..6];
        await _gw.CreateAccountAsync(account);
        var (keyId, _) = await _gw.CreateKeyAsync(account);

        var put = await PutRawAsync($"/admin/keys/{keyId}/rate-limits", """{"rpm":60,"tpm":90000,"rpd":null,"max_in_flight":4,"models":{"gpt-4o":{"rpm":10,"tpm":null}}}""");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var shown = await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/keys/{keyId}/rate-limits");
        Assert.Equal("key", shown.GetProperty("scope").GetString());
        Assert.Equal(60, shown.GetProperty("rpm").GetInt64());
        Assert.Equal(90000, shown.GetProperty("tpm").GetInt64());
        Assert.Equal(JsonValueKind.Null, shown.GetProperty("rpd").ValueKind);
        Assert.Equal(4, shown.GetProperty("max_in_flight").GetInt64());
        Assert.Equal(10, shown.GetProperty("models").GetProperty("gpt-4o").GetProperty("rpm").GetInt64());

        // A PUT replaces them all: what it leaves out is removed.
        (await PutRawAsync($"/admin/keys/{keyId}/rate-limits", """{"tpm":1000}""")).EnsureSuccessStatusCode();
        shown = await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/keys/{keyId}/rate-limits");
        Assert.Equal(JsonValueKind.Null, shown.GetProperty("rpm").ValueKind);
        Assert.Equal(1000, shown.GetProperty("tpm").GetInt64());
        Assert.Empty(shown.GetProperty("models").EnumerateObject());

        (await PutRawAsync($"/admin/accounts/{account}/rate-limits", """{"rpd":5000}""")).EnsureSuccessStatusCode();
        Assert.Equal(5000, (await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/accounts/{account}/rate-limits")).GetProperty("rpd").GetInt64());
        (await PutRawAsync($"/admin/accounts/{account}/projects/default/rate-limits", """{"rpm":7}""")).EnsureSuccessStatusCode();
        Assert.Equal(7, (await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/accounts/{account}/projects/default/rate-limits")).GetProperty("rpm").GetInt64());
    }

    [Theory]
    [InlineData("""{"rpm":0}""", "rpm")]
    [InlineData("""{"tpm":-5}""", "tpm")]
    [InlineData("""{"rpm":1.5}""", "rpm")]
    [InlineData("""{"rpm":"60"}""", "rpm")]
    [InlineData("""{"rmp":60}""", null)]
    [InlineData("""{"rpm":60,"rpm":6000}""", null)]
    [InlineData("""{"max_in_flight":2000000}""", "max_in_flight")]
    [InlineData("""{"models":{"gpt 4o":{"rpm":1}}}""", "models")]
    [InlineData("""{"models":{"gpt-4o":{"rpm":0}}}""", "models")]
    [InlineData("""{"models":{"gpt-4o":{"rpx":1}}}""", null)]
    [InlineData("""{"models":{"gpt-4o":{"tpm":"5"}}}""", null)]
    [InlineData("""{"models":["gpt-4o"]}""", "models")]
    [InlineData("""[]""", null)]
    public async Task Put_InvalidBody_Is400_AndChangesNothing(string body, string? param)
    {
        var account = "rla-" + Guid.NewGuid().ToString("N")[..6];
        await _gw.CreateAccountAsync(account);
        (await PutRawAsync($"/admin/accounts/{account}/rate-limits", """{"rpm":60}""")).EnsureSuccessStatusCode();

        var r = await PutRawAsync($"/admin/accounts/{account}/rate-limits", body);

        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var error = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("invalid_request", error.GetProperty("code").GetString());
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(60, (await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/accounts/{account}/rate-limits")).GetProperty("rpm").GetInt64());
    }

    [Theory]
    [InlineData("/admin/keys/key_nope/rate-limits")]
    [InlineData("/admin/accounts/nope-account/rate-limits")]
    [InlineData("/admin/accounts/nope-account/projects/default/rate-limits")]
    public async Task UnknownScope_Is404(string path)
    {
        Assert.Equal(HttpStatusCode.NotFound, (await _gw.Admin.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PutRawAsync(path, """{"rpm":1}""")).StatusCode);
    }

    [Fact]
    public async Task UnknownProject_Is404()
    {
        var account = "rla-" + Guid.NewGuid().ToString("N")[..6];
        await _gw.CreateAccountAsync(account);
        Assert.Equal(HttpStatusCode.NotFound, (await PutRawAsync($"/admin/accounts/{account}/projects/ghost/rate-limits", """{"rpm":1}""")).StatusCode);
    }

    [Fact]
    public async Task WithoutTheAdminToken_Is401()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await _gw.Http.GetAsync("/admin/accounts/x/rate-limits")).StatusCode);
    }
}
