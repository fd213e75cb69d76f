using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.BillingConsole;

/// <summary>
/// The console's session without a browser: the cookie's attributes, its expiry (on the gateway's clock), a team
/// admin's session ending with its key, and the 429 guidance pointing at the console when no billing URL is set.
/// </summary>
public sealed partial class ConsoleSessionTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    /// <summary>Signs in as a browser would (the form's antiforgery token, the cookies it sets); returns the sign-in answer.</summary>
    private static async Task<HttpResponseMessage> SignInAsync(HttpClient browser, string token)
    {
        var form = await browser.GetStringAsync("/console/signin");
        var csrf = AntiforgeryField().Match(form).Groups[1].Value;
        return await browser.PostAsync("/console/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = token, ["__RequestVerificationToken"] = csrf,
        }));
    }

    private static HttpClient Browser(GatewayHost gw, CookieContainer cookies) =>
        new(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = new Uri(gw.BaseUrl) };

    [Fact]
    public async Task Session_IsAnHttpOnlyStrictCookieWithoutTheToken_AndExpiresAfterEightHours()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gw = await GatewayHost.StartAsync(redis, clock: clock);
        var cookies = new CookieContainer();
        using var browser = Browser(gw, cookies);

        var signIn = await SignInAsync(browser, GatewayHost.AdminToken);

        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        var header = signIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("tg_console=", StringComparison.Ordinal));
        Assert.Contains("httponly", header, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", header, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/console", header, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(GatewayHost.AdminToken, header, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/console")).StatusCode);

        clock.Advance(TimeSpan.FromHours(7.9));
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/console")).StatusCode);
        clock.Advance(TimeSpan.FromHours(0.2));
        var expired = await browser.GetAsync("/console");
        Assert.Equal(HttpStatusCode.Redirect, expired.StatusCode);
        Assert.StartsWith("/console/signin", expired.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TeamAdminSession_EndsWhenItsKeyIsRevoked()
    {
        await using var gw = await GatewayHost.StartAsync(redis);
        await gw.CreateAccountAsync("ops");
        var created = await (await gw.Admin.PostAsJsonAsync("/admin/accounts/ops/admin-keys", new { name = "lead" })).Content.ReadFromJsonAsync<JsonElement>();
        using var browser = Browser(gw, new CookieContainer());
        var signIn = await SignInAsync(browser, created.GetProperty("key").GetString()!);
        Assert.Equal("/console/ops/overview", signIn.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/console/ops/overview")).StatusCode);

        await gw.Admin.DeleteAsync($"/admin/admin-keys/{created.GetProperty("id").GetString()}");

        var after = await browser.GetAsync("/console/ops/overview");
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
        Assert.StartsWith("/console/signin", after.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InsufficientQuota_PointsAtTheTeamsConsoleOverview_WhenNoBillingUrlIsConfigured()
    {
        await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Billing:Url"] = "" });
        var key = await gw.FundedKeyAsync("broke", 0m);

        var r = await gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
        var message = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("message").GetString();
        Assert.EndsWith("Add credits at /console/broke/overview.", message, StringComparison.Ordinal);
    }
}
