using System.ClientModel;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using OpenAI.Chat;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.BillingConsole;

/// <summary>
/// The billing console in a real headless Chromium against a real gateway, Redis, mock upstream and funding webhook,
/// with every request outside the gateway's origin aborted (and asserted absent). Takes the screenshots of
/// docs/console/ (written there only with TG_CONSOLE_SCREENSHOTS=1).
/// </summary>
public sealed class ConsoleTests(ConsoleBrowser fx) : IClassFixture<ConsoleBrowser>
{
    // gpt-4o with the fixture's mock usage: 40 × $2.50/M + 1,000 × $10/M = 10,100 micro-USD a request.
    private const long RequestCost = 10_100;

    [Fact]
    public async Task PlatformAdmin_CreatesTeam_AddsCredit_EnablesAutoRecharge_SeesExactUsage_AndManagesKeys()
    {
        var foreign = new List<string>();
        await using var context = await fx.NewContextAsync(foreign);
        await context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"]);
        // The network limit works: a request outside the gateway's origin is aborted and recorded. (On a page of its
        // own: the error page Chromium then shows would interrupt the next navigation.)
        var probe = await context.NewPageAsync();
        await Assert.ThrowsAsync<PlaywrightException>(() => probe.GotoAsync("http://192.0.2.1/elsewhere.css"));
        await probe.CloseAsync();
        Assert.Equal(["http://192.0.2.1/elsewhere.css"], foreign);
        foreign.Clear();
        var page = await context.NewPageAsync();

        await SignInAsync(page, GatewayHost.AdminToken);
        await page.WaitForURLAsync("**/console");
        var session = (await context.CookiesAsync()).Single(c => c.Name == "tg_console");
        Assert.True(session.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, session.SameSite);
        Assert.Equal(-1, session.Expires); // a browser-session cookie; the ticket inside expires after 8 hours
        Assert.DoesNotContain(GatewayHost.AdminToken, session.Value, StringComparison.Ordinal);

        // A team, created from the console.
        await page.GetByLabel("Team id").FillAsync("research");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("Research team");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create team" }).ClickAsync();
        await page.WaitForURLAsync("**/console/research/overview");
        Assert.Equal(0, await DataAsync(page, "#balance"));
        await AssertLabelledAsync(page);

        // Add credit: the platform admin grants directly.
        await page.GetByLabel(new Regex("^Amount")).FillAsync("20");
        await page.GetByLabel("Source").SelectOptionAsync("promo");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add credit" }).ClickAsync();
        await page.WaitForURLAsync("**/overview?done=granted");
        Assert.Equal(20_000_000, await DataAsync(page, "#balance"));
        Assert.Equal(20_000_000, await fx.Gateway.BalanceMicrosAsync("research"));
        Assert.Contains("promo", await page.Locator("#grants").InnerTextAsync());

        // The same form posted without its antiforgery token (a cross-site forgery) is refused and grants nothing.
        var forged = await page.APIRequest.PostAsync("/console/research/overview?handler=AddCredit", new()
        {
            Form = page.APIRequest.CreateFormData().Set("amount", "50").Set("source", "manual"),
        });
        Assert.Equal(400, forged.Status);
        Assert.Equal(20_000_000, await fx.Gateway.BalanceMicrosAsync("research"));

        // Auto-recharge on.
        await page.GetByLabel("Enable auto-recharge").CheckAsync();
        await page.GetByLabel("When the balance falls below (USD)").FillAsync("2");
        await page.GetByLabel(new Regex("^Add this amount")).FillAsync("10");
        await page.GetByLabel("Monthly recharge limit (USD)").FillAsync("50");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save auto-recharge" }).ClickAsync();
        await page.WaitForURLAsync("**/overview?done=auto_recharge");
        Assert.StartsWith("On: when the balance falls below $2.00, add $10.00", await page.Locator("#auto-recharge-status").InnerTextAsync());
        var autoRecharge = (await fx.Gateway.GetAccountAsync("research")).GetProperty("auto_recharge");
        Assert.True(autoRecharge.GetProperty("enabled").GetBoolean());
        Assert.Equal(10_000_000m, autoRecharge.GetProperty("amount_usd").GetDecimal() * 1_000_000m);

        // Auto-recharge to a target balance instead (the amount is then the minimum top-up, as in the admin API).
        await page.GetByLabel("To a target balance").CheckAsync();
        await page.GetByLabel(new Regex("^Target balance")).FillAsync("15");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save auto-recharge" }).ClickAsync();
        await page.WaitForURLAsync("**/overview?done=auto_recharge");
        Assert.StartsWith("On: when the balance falls below $2.00, recharge to a balance of $15.00", await page.Locator("#auto-recharge-status").InnerTextAsync());
        Assert.True(await page.GetByLabel("To a target balance").IsCheckedAsync());
        autoRecharge = (await fx.Gateway.GetAccountAsync("research")).GetProperty("auto_recharge");
        Assert.Equal(15m, autoRecharge.GetProperty("target_balance_usd").GetDecimal());
        Assert.Equal(5m, autoRecharge.GetProperty("amount_usd").GetDecimal());

        // Refused as the admin API refuses it (the same AutoRechargeRules), in the console's words, and nothing changes: a
        // target not above the threshold or not an amount at all, a monthly limit below what a target recharge adds (the
        // minimum top-up), a fixed amount below the minimum top-up.
        foreach (var (byTarget, value, limit, error) in new[]
        {
            (true, "2", "50", "The target balance must be an amount in USD above the threshold."),
            (true, "fifteen", "50", "The target balance must be an amount in USD above the threshold."),
            (true, "15", "4", "The monthly recharge limit must be at least the recharge amount ($5.00)."),
            (false, "4.99", "50", "The recharge amount must be at least the minimum top-up of $5."),
        })
        {
            await page.GetByLabel(byTarget ? "To a target balance" : "By a fixed amount").CheckAsync();
            await page.GetByLabel(new Regex(byTarget ? "^Target balance" : "^Add this amount")).FillAsync(value);
            await page.GetByLabel("Monthly recharge limit (USD)").FillAsync(limit);
            var refused = await page.RunAndWaitForResponseAsync(
                () => page.GetByRole(AriaRole.Button, new() { Name = "Save auto-recharge" }).ClickAsync(), r => r.Request.Method == "POST");
            Assert.Equal(400, refused.Status);
            Assert.Equal(error, await page.Locator("#form-error").InnerTextAsync());
        }
        Assert.Equal(autoRecharge.GetRawText(), (await fx.Gateway.GetAccountAsync("research")).GetProperty("auto_recharge").GetRawText());

        // Usage limits, then threshold alerts and the low-balance alert, set from the overview and read back through the admin API; bad
        // input (as the admin API would refuse it) changes nothing.
        await page.GetByLabel(new Regex("^Hard limit a month")).FillAsync("100");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save limits" }).ClickAsync();
        await page.WaitForURLAsync("**/overview?done=limits");
        await page.GetByLabel(new Regex("^Alert at these percentages")).FillAsync("80, 50, 100");
        await page.GetByLabel(new Regex("^Alert when the balance falls below")).FillAsync("5");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save alerts" }).ClickAsync();
        await page.WaitForURLAsync("**/overview?done=alerts");
        var alerts = (await fx.Gateway.GetAccountAsync("research")).GetProperty("alerts");
        Assert.Equal([50, 80, 100], alerts.GetProperty("thresholds_percent").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(5m, alerts.GetProperty("low_balance_usd").GetDecimal());
        Assert.Equal("50, 80, 100", await page.GetByLabel(new Regex("^Alert at these percentages")).InputValueAsync());
        Assert.Equal("An alert at 50 %, 80 %, 100 % of the hard limit ($100.00) this month; another when the balance falls below $5.00.",
            await page.Locator("#alerts-status").InnerTextAsync());
        foreach (var bad in new[] { "50, 2000", "50, eighty", "-5" })
        {
            await page.GetByLabel(new Regex("^Alert at these percentages")).FillAsync(bad);
            await page.GetByLabel(new Regex("^Alert when the balance falls below")).FillAsync("");
            var refused = await page.RunAndWaitForResponseAsync(
                () => page.GetByRole(AriaRole.Button, new() { Name = "Save alerts" }).ClickAsync(), r => r.Request.Method == "POST");
            Assert.Equal(400, refused.Status);
            Assert.Contains("whole percentages from 1 to 1000", await page.Locator("#form-error").InnerTextAsync(), StringComparison.Ordinal);
        }
        Assert.Equal(alerts.GetRawText(), (await fx.Gateway.GetAccountAsync("research")).GetProperty("alerts").GetRawText());

        // A project with a hard limit of $1, and a key of the default project made through the admin API.
        (await fx.Gateway.Admin.PostAsJsonAsync("/admin/accounts/research/projects", new { id = "ml", name = "Machine learning" })).EnsureSuccessStatusCode();
        (await fx.Gateway.Admin.PutAsJsonAsync("/admin/accounts/research/projects/ml/limits", new { hard_limit_usd = 1m })).EnsureSuccessStatusCode();
        var (_, batchSecret) = await fx.Gateway.CreateKeyAsync("research", new { name = "batch" });

        // A key, created from the console: its secret shown once, with a working copy button.
        await page.GetByRole(AriaRole.Link, new() { Name = "API keys" }).ClickAsync();
        Assert.Equal(["default", "ml"], await page.Locator("#key-project option").EvaluateAllAsync<string[]>("os => os.map(o => o.value)"));
        Assert.Equal("default", await page.GetByLabel("Project", new() { Exact = true }).InputValueAsync());
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("ci-bot");
        await page.GetByLabel("Project", new() { Exact = true }).SelectOptionAsync("ml");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        var secret = await page.GetByLabel("Secret key (shown once)").InputValueAsync();
        Assert.StartsWith("tg-", secret, StringComparison.Ordinal);
        await page.GetByRole(AriaRole.Button, new() { Name = "Copy" }).ClickAsync();
        Assert.Equal(secret, await page.EvaluateAsync<string>("navigator.clipboard.readText()"));
        await page.GotoAsync("/console/research/keys");
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);
        var keyId = (await page.Locator("#keys tbody tr").First.GetAttributeAsync("id"))!["key-".Length..];
        Assert.Equal("ml", await page.Locator($"#key-{keyId} td:nth-child(3)").InnerTextAsync());
        Assert.Equal("default", await page.Locator("#keys tbody tr").Nth(1).Locator("td:nth-child(3)").InnerTextAsync());

        // Metered traffic through the gateway and the mock upstream, with that key.
        var chat = fx.Gateway.OpenAI(secret).GetChatClient("gpt-4o");
        for (var i = 0; i < 3; i++) await chat.CompleteChatAsync([new UserChatMessage("Hello")], new ChatCompletionOptions { MaxOutputTokenCount = 1000 });
        await fx.Gateway.OpenAI(batchSecret).GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("Hello")], new ChatCompletionOptions { MaxOutputTokenCount = 1000 });
        const long spent = 4 * RequestCost; // $0.0404: $0.0303 in project ml, $0.0101 in default

        // Usage: the chart and the table show the exact spend, by model, by project and by key.
        await page.GetByRole(AriaRole.Link, new() { Name = "Usage" }).ClickAsync();
        Assert.Equal(spent, await DataAsync(page, "#usage-table-total"));
        var row = page.Locator("#usage-table tbody tr");
        Assert.Equal(1, await row.CountAsync());
        Assert.Contains("gpt-4o\t4\t160\t4,000\t$0.0404", await row.InnerTextAsync(), StringComparison.Ordinal);
        Assert.EndsWith("gpt-4o: $0.0404", (await page.Locator("#spend-chart rect title").TextContentAsync())!, StringComparison.Ordinal);
        Assert.EndsWith("gpt-4o: 4,160", (await page.Locator("#tokens-chart rect title").TextContentAsync())!, StringComparison.Ordinal);
        await AssertLabelledAsync(page);
        await page.GetByLabel("Split by").SelectOptionAsync("project");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await page.WaitForURLAsync("**by=project*");
        Assert.Equal(["default\t1\t40\t1,000\t$0.0101", "ml\t3\t120\t3,000\t$0.0303"], WithoutDate(await row.AllInnerTextsAsync()));
        Assert.Equal(spent, await DataAsync(page, "#usage-table-total"));
        Assert.Equal("Project", await page.Locator("#usage-table thead th:nth-child(2)").InnerTextAsync());
        Assert.Equal(2, await page.Locator("#spend-chart rect title").CountAsync());
        await AssertLabelledAsync(page);
        await ScreenshotAsync(page, "usage");
        var projectCsv = await DownloadAsync(page, "#usage-csv");
        Assert.StartsWith("date,project_id,", projectCsv[0], StringComparison.Ordinal);
        Assert.Equal(3 * RequestCost, projectCsv.Skip(1).Where(l => l.Split(',')[1] == "ml").Sum(l => long.Parse(l.Split(',')[^1], CultureInfo.InvariantCulture)));
        await page.GetByLabel("Split by").SelectOptionAsync("key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await page.WaitForURLAsync("**by=key*");
        Assert.Contains(WithoutDate(await row.AllInnerTextsAsync()), r => r.StartsWith(keyId + "\t3\t", StringComparison.Ordinal));
        Assert.Equal(spent, await DataAsync(page, "#usage-table-total"));
        var usageCsv = await DownloadAsync(page, "#usage-csv");
        Assert.Equal(spent, usageCsv.Skip(1).Sum(l => long.Parse(l.Split(',')[^1], CultureInfo.InvariantCulture)));

        // Overview: the balance dropped by exactly the spend.
        await page.GetByRole(AriaRole.Link, new() { Name = "Overview" }).ClickAsync();
        var balance = await DataAsync(page, "#balance");
        Assert.Equal(20_000_000 - spent, balance);
        Assert.Equal(spent, await DataAsync(page, "#month-spend"));
        // The projects' month spend, the limited one as a meter against its hard limit.
        Assert.Equal(3 * RequestCost, await DataAsync(page, "#project-ml .spend"));
        Assert.Equal(RequestCost, await DataAsync(page, "#project-default .spend"));
        Assert.Equal("30300", await page.Locator("#project-ml meter.hard").GetAttributeAsync("value"));
        Assert.Equal("1000000", await page.Locator("#project-ml meter.hard").GetAttributeAsync("max"));
        Assert.Equal(0, await page.Locator("#project-default meter").CountAsync());
        await AssertLabelledAsync(page);
        await ScreenshotAsync(page, "overview");

        // Transactions: the ledger's CSV sums to the balance; the debit filter shows the four requests.
        await page.GetByRole(AriaRole.Link, new() { Name = "Transactions" }).ClickAsync();
        await AssertLabelledAsync(page);
        await ScreenshotAsync(page, "transactions");
        var ledgerCsv = await DownloadAsync(page, "#ledger-csv");
        Assert.Equal("id,created_at,type,source,amount_usd,amount_micros,balance_micros,model,key_id,request_id,grant_id", ledgerCsv[0]);
        Assert.Equal(5, ledgerCsv.Count - 1);
        Assert.Equal(balance, ledgerCsv.Skip(1).Sum(l => long.Parse(l.Split(',')[5], CultureInfo.InvariantCulture)));
        await page.GetByLabel("Type").SelectOptionAsync("debit");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await page.WaitForURLAsync("**type=debit*");
        Assert.Equal(4, await page.Locator("#ledger tbody tr").CountAsync());
        Assert.All(await page.Locator("#ledger tbody tr td:nth-child(2)").AllInnerTextsAsync(), t => Assert.Equal("debit", t));

        // Rotate: a new secret, shown once, and the grace period of the previous one.
        await page.GetByRole(AriaRole.Link, new() { Name = "API keys" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Rotate key ci-bot" }).ClickAsync();
        var rotated = await page.GetByLabel("Secret key (shown once)").InputValueAsync();
        Assert.NotEqual(secret, rotated);
        Assert.Contains("previous secret keeps working for 24 hours", await page.Locator(".notice").InnerTextAsync(), StringComparison.Ordinal);
        await chat.CompleteChatAsync([new UserChatMessage("Still in grace")], new ChatCompletionOptions { MaxOutputTokenCount = 1000 });
        await page.GotoAsync("/console/research/keys");
        await AssertLabelledAsync(page);
        await ScreenshotAsync(page, "keys");

        // Revoke, confirmed on its own page: the proxy refuses the key (both secrets) from the next request on.
        await page.GetByRole(AriaRole.Link, new() { Name = "Revoke key ci-bot" }).ClickAsync();
        await page.WaitForURLAsync($"**/keys/{keyId}/revoke");
        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke key" }).ClickAsync();
        await page.WaitForURLAsync("**/keys?revoked=*");
        Assert.Contains("revoked", await page.Locator($"#key-{keyId}").InnerTextAsync(), StringComparison.Ordinal);
        foreach (var k in new[] { rotated, secret })
        {
            var refused = await Assert.ThrowsAsync<ClientResultException>(() => fx.Gateway.OpenAI(k).GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("Hello")]));
            Assert.Equal(401, refused.Status);
        }

        Assert.Empty(foreign);
    }

    [Fact]
    public async Task TeamAdmin_SignsInWithKeyboard_SeesOnlyOwnTeam_AndRequestsCreditApprovedByFundingWebhook()
    {
        await fx.Gateway.CreateAccountAsync("design");
        await fx.Gateway.CreateAccountAsync("finance");
        await fx.Gateway.AddCreditsAsync("finance", 50m);
        (await fx.Gateway.Admin.PostAsJsonAsync("/admin/accounts/design/projects", new { id = "web", name = "Website" })).EnsureSuccessStatusCode();
        (await fx.Gateway.Admin.PostAsJsonAsync("/admin/accounts/finance/projects", new { id = "ledger", name = "Ledger" })).EnsureSuccessStatusCode();
        var created = await fx.Gateway.Admin.PostAsJsonAsync("/admin/accounts/design/admin-keys", new { name = "design lead" });
        var adminKey = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        var foreign = new List<string>();
        await using var context = await fx.NewContextAsync(foreign);
        var page = await context.NewPageAsync();

        // A wrong key is refused with a message.
        await SignInAsync(page, "tga-not-a-key");
        Assert.Contains("neither the admin token nor a valid team admin key", await page.GetByRole(AriaRole.Alert).InnerTextAsync(), StringComparison.Ordinal);

        // Keyboard only: Tab to the field, type, Enter.
        await page.GotoAsync("/console/signin");
        for (var i = 0; i < 6 && await page.EvaluateAsync<string>("document.activeElement.id") != "token"; i++) await page.Keyboard.PressAsync("Tab");
        Assert.Equal("token", await page.EvaluateAsync<string>("document.activeElement.id"));
        await page.Keyboard.TypeAsync(adminKey);
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync("**/console/design/overview");
        Assert.Equal(0, await page.Locator("#team-switcher").CountAsync());
        Assert.Equal(0, await page.Locator("#ar-mode").CountAsync()); // internal (unapproved) recharges are the platform admin's
        Assert.DoesNotContain(adminKey, (await context.CookiesAsync()).Single(c => c.Name == "tg_console").Value, StringComparison.Ordinal);

        // Another team's pages: 403, and nothing of that team on them.
        foreach (var section in new[] { "overview", "usage", "transactions", "keys", "usage?handler=Csv", "transactions?handler=Csv" })
        {
            var response = await page.GotoAsync($"/console/finance/{section}");
            Assert.Equal(403, response!.Status);
            Assert.DoesNotContain("50.00", await page.ContentAsync(), StringComparison.Ordinal);
        }
        // The key form offers this team's projects only; another team's project, forced into the form, is refused.
        await page.GotoAsync("/console/design/keys");
        Assert.Equal(["default", "web"], await page.Locator("#key-project option").EvaluateAllAsync<string[]>("os => os.map(o => o.value)"));
        await page.Locator("#key-project").EvaluateAsync("s => s.add(new Option('Ledger', 'ledger'))");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("sneaky");
        await page.GetByLabel("Project", new() { Exact = true }).SelectOptionAsync("ledger");
        var refused = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync(), r => r.Request.Method == "POST");
        Assert.Equal(400, refused.Status);
        Assert.Contains("active project of this team", await page.GetByRole(AriaRole.Alert).InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#keys tbody tr").CountAsync());
        await page.GotoAsync("/console");
        await page.WaitForURLAsync("**/console/design/overview");

        // Request credit: pending until the funding webhook answers, then granted.
        using var hold = new ManualResetEventSlim();
        fx.Hooks.Respond = (path, _) =>
        {
            if (path != "/funding") return 204;
            hold.Wait(TimeSpan.FromSeconds(30));
            return 200;
        };
        try
        {
            await page.GetByLabel(new Regex("^Amount")).FillAsync("7");
            await page.GetByRole(AriaRole.Button, new() { Name = "Request credit" }).ClickAsync();
            await page.WaitForURLAsync("**/overview?done=requested");
            Assert.Equal("pending", await page.Locator("#credit-requests tbody td:nth-child(3)").InnerTextAsync());
            Assert.Equal(0, await DataAsync(page, "#balance"));
        }
        finally
        {
            hold.Set();
            fx.Hooks.Respond = (path, _) => path == "/funding" ? 200 : 204;
        }
        var funding = (await fx.Hooks.WaitForAsync(r => r.Any(d => d.Path == "/funding" && d.Json.GetProperty("account_id").GetString() == "design")))
            .Single(d => d.Path == "/funding" && d.Json.GetProperty("account_id").GetString() == "design");
        Assert.Equal("credit.requested", funding.Type);
        Assert.Equal(7_000_000, funding.Json.GetProperty("data").GetProperty("amount_micros").GetInt64());
        Assert.True(WebhookReceiver.IsValidlySigned(funding));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (await DataAsync(page, "#balance") != 7_000_000 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            await page.ReloadAsync();
        }
        Assert.Equal(7_000_000, await DataAsync(page, "#balance"));
        Assert.Equal("approved", await page.Locator("#credit-requests tbody td:nth-child(3)").InnerTextAsync());
        Assert.Equal(50_000_000, await fx.Gateway.BalanceMicrosAsync("finance"));
        await AssertLabelledAsync(page);

        Assert.Empty(foreign);
    }

    /// <summary>Usage table rows without their first cell (the date, today's on the real clock).</summary>
    private static List<string> WithoutDate(IEnumerable<string> rows) => [.. rows.Select(r => r[(r.IndexOf('\t', StringComparison.Ordinal) + 1)..]).Order(StringComparer.Ordinal)];

    private static async Task SignInAsync(IPage page, string token)
    {
        await page.GotoAsync("/console/signin");
        await page.GetByLabel("Admin token or team admin key").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
    }

    /// <summary>The exact micro-USD a page states in a <c>&lt;data value&gt;</c> element.</summary>
    private static async Task<long> DataAsync(IPage page, string selector) =>
        long.Parse((await page.Locator(selector).GetAttributeAsync("value"))!, CultureInfo.InvariantCulture);

    private static async Task<List<string>> DownloadAsync(IPage page, string selector)
    {
        var download = await page.RunAndWaitForDownloadAsync(() => page.Locator(selector).ClickAsync());
        await using var stream = await download.CreateReadStreamAsync();
        using var reader = new StreamReader(stream);
        return [.. (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    /// <summary>Every form control of the page has a label (its own, or an aria-label), and every button a name.</summary>
    private static async Task AssertLabelledAsync(IPage page)
    {
        var unlabelled = await page.EvaluateAsync<string[]>("""
            [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
              .map(e => e.outerHTML)
            """);
        Assert.Empty(unlabelled);
    }

    /// <summary>
    /// The page as a PNG: into docs/console/ (the README's screenshots) only when TG_CONSOLE_SCREENSHOTS=1, else into a
    /// temporary directory, so a test run leaves the git tree clean.
    /// </summary>
    private static async Task ScreenshotAsync(IPage page, string name)
    {
        string dir;
        if (Environment.GetEnvironmentVariable("TG_CONSOLE_SCREENSHOTS") == "1")
        {
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "TokenGateway.sln"))) root = root.Parent;
            Assert.NotNull(root);
            dir = Path.Combine(root.FullName, "docs", "console");
        }
        else
        {
            dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "tokengateway-console-screenshots")).FullName;
        }
        var path = Path.Combine(dir, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        Assert.True(new FileInfo(path).Length > 0);
    }
}
