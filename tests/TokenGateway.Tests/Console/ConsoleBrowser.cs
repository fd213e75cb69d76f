using Microsoft.Playwright;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.BillingConsole;

/// <summary>
/// One real gateway (Redis, HTTPS mock upstream, a funding webhook that approves) and one headless Chromium (Debian's
/// package, driven by Playwright: Playwright cannot download its own browsers here) for the console's browser tests.
/// </summary>
public sealed class ConsoleBrowser : IAsyncLifetime
{
    private readonly RedisServer _redis = new();
    private IPlaywright _playwright = null!;

    public GatewayHost Gateway { get; private set; } = null!;
    public WebhookReceiver Hooks { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Debian's chromium binary (the /usr/bin/chromium wrapper only adds flags); CHROMIUM_PATH overrides.</summary>
    public static string ChromiumPath =>
        Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path
        : File.Exists("/usr/lib/chromium/chromium") ? "/usr/lib/chromium/chromium"
        : "/usr/bin/chromium";

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        Hooks = await WebhookReceiver.StartAsync();
        Hooks.Respond = (path, _) => path == "/funding" ? 200 : 204;
        Gateway = await GatewayHost.StartAsync(_redis, new Dictionary<string, string>
        {
            ["Billing:Webhooks:Url"] = Hooks.BaseUrl + "/notify",
            ["Billing:Webhooks:FundingUrl"] = Hooks.BaseUrl + "/funding",
            ["Billing:Webhooks:Secret"] = WebhookReceiver.Secret,
        });
        // gpt-4o: 40 input tokens at $2.50/M + 1,000 output at $10/M = 100 + 10,000 = 10,100 micro-USD a request.
        Gateway.Upstream.Options.PromptTokens = 40;
        Gateway.Upstream.Options.CompletionTokens = 1000;
        Assert.True(File.Exists(ChromiumPath), $"Chromium is missing at {ChromiumPath}: apt-get install -y chromium (scripts/test.sh does).");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = ChromiumPath, Headless = true });
    }

    /// <summary>
    /// A fresh browser profile (no cookies) whose pages may reach the gateway's origin only: any other request is
    /// aborted and recorded in <paramref name="foreign"/>, which each test asserts empty.
    /// </summary>
    public async Task<IBrowserContext> NewContextAsync(List<string> foreign)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Gateway.BaseUrl, AcceptDownloads = true, ViewportSize = new ViewportSize { Width = 1200, Height = 900 },
        });
        context.SetDefaultTimeout(15_000);
        var origin = new Uri(Gateway.BaseUrl).GetLeftPart(UriPartial.Authority);
        await context.RouteAsync("**/*", async route =>
        {
            if (new Uri(route.Request.Url).GetLeftPart(UriPartial.Authority) == origin)
            {
                await route.ContinueAsync();
            }
            else
            {
                lock (foreign) foreign.Add(route.Request.Url);
                await route.AbortAsync();
            }
        });
        return context;
    }

    public async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
        await Gateway.DisposeAsync();
        await Hooks.DisposeAsync();
        await _redis.DisposeAsync();
    }
}
