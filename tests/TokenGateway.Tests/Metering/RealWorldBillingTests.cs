using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using TokenGateway.Metering;
using TokenGateway.Tests.Infrastructure;
using TokenGateway.Tests.Telemetry;

namespace TokenGateway.Tests.Metering;

/// <summary>What production brings that a well-behaved client does not: clients that leave, unbounded model names, bad price files.</summary>
public sealed class RealWorldBillingTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private static string NewAccount() => "acct-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task ClientGoneBeforeTheFirstByte_PaysTheInputItSent()
    {
        await using var gw = await GatewayHost.StartAsync(redis);
        var account = NewAccount();
        var key = await gw.FundedKeyAsync(account, 10m);
        const string body = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Summarise the history of the printing press in three paragraphs."}]}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", key);
        request.Headers.Add("x-mock-delay-ms", "3000");   // the upstream thinks for 3 s before its first byte
        using var leave = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gw.Http.SendAsync(request, leave.Token));

        Assert.Single(gw.Upstream.Requests);   // it was forwarded: the upstream bills it
        await WaitUntilAsync(async () => await gw.HeldMicrosAsync(account) == 0);
        var bytes = Encoding.UTF8.GetBytes(body);
        var inputTokens = InputTokenCounter.Count(RequestInspector.Inspect(MeteredEndpoint.ChatCompletions, bytes).Request!, bytes);
        // gpt-4o-mini input: 0.15 µ$ a token, rounded up once; no output reached the client.
        var expected = (long)Math.Ceiling(inputTokens * 0.15m);
        Assert.True(expected > 0);
        Assert.Equal(10_000_000 - expected, await gw.BalanceMicrosAsync(account));
        var debit = (await gw.LedgerAsync(account)).Single(e => e.GetProperty("type").GetString() == "debit");
        Assert.Equal(inputTokens, debit.GetProperty("input_tokens").GetInt64());
        Assert.Equal(0, debit.GetProperty("output_tokens").GetInt64());
    }

    [Fact]
    public async Task RandomModelSuffixes_NeverBecomeMetricSeries()
    {
        await using var gw = await GatewayHost.StartAsync(redis);
        var account = NewAccount();
        var key = await gw.FundedKeyAsync(account, 10m);
        async Task SendAsync(string model) =>
            (await gw.PostAsync(key, "/v1/chat/completions", $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""")).Dispose();
        await SendAsync("gpt-4o-mini");
        await SendAsync("gpt-4o-mini-zz" + Guid.NewGuid().ToString("N"));
        // NOTE: a request's metrics are recorded as its handler ends, which can be just after the client has the answer.
        await Task.Delay(300);
        // NOTE: this account's series: other test classes' gateways run in parallel in this process and share the meter.
        HashSet<string> Series(string text) => [.. MetricsText.Samples(text)
            .Where(s => s.Labels.TryGetValue("account", out var a) && a == account && !s.Name.StartsWith("tokengateway_balance") && !s.Name.StartsWith("tokengateway_held"))
            .Select(s => s.Name + "{" + string.Join(",", s.Labels.OrderBy(l => l.Key).Select(l => $"{l.Key}={l.Value}")) + "}")];
        var before = Series(await gw.Http.GetStringAsync("/metrics"));

        for (var i = 0; i < 50; i++) await SendAsync("gpt-4o-mini-zz" + Guid.NewGuid().ToString("N") + "\\r\\n\\u0000");
        await Task.Delay(300);

        var text = await gw.Http.GetStringAsync("/metrics");
        var after = Series(text);
        Assert.True(!after.Except(before).Any(), "new series: " + string.Join(" ", after.Except(before)));
        Assert.Equal(before.Count, after.Count);
        Assert.DoesNotContain("gpt-4o-mini-zz", text);
    }

    [Fact]
    public async Task PricingFileBrokenWhileTrafficFlows_OldPricesStayInForce()
    {
        var dir = Directory.CreateTempSubdirectory("tg-prices-").FullName;
        try
        {
            var file = Path.Combine(dir, "pricing.json");
            await File.WriteAllTextAsync(file, """{"models":{"gpt-4o-mini":{"input":0.15,"cached_input":0.075,"output":0.6,"max_output_tokens":16384}}}""");
            await using var gw = await GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Pricing:File"] = file });
            gw.Upstream.Options.PromptTokens = 1000;
            gw.Upstream.Options.CompletionTokens = 1000;
            var account = NewAccount();
            var key = await gw.FundedKeyAsync(account, 10m);
            using var stop = new CancellationTokenSource();
            var statuses = new List<HttpStatusCode>();
            var traffic = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    using var r = await gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""");
                    lock (statuses) statuses.Add(r.StatusCode);
                }
            });

            foreach (var broken in new[] { """{"models":{"gpt-4o-mini":{"input":0.15,"output":0.6,"max_output_tokens":"16384"}}}""", "[]", """{"models":{"gpt-4o-mini":{"input":0.15}}}""" })
            {
                await File.WriteAllTextAsync(file, broken);
                await Task.Delay(700);   // past the reload's debounce
            }
            await stop.CancelAsync();
            await traffic;

            Assert.NotEmpty(statuses);
            Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
            // Every request at the old price: 1000 × 0.15 + 1000 × 0.60 = 750 µ$.
            var debits = (await gw.LedgerAsync(account)).Where(e => e.GetProperty("type").GetString() == "debit").ToList();
            Assert.Equal(statuses.Count, debits.Count);
            Assert.All(debits, d => Assert.Equal(-750, d.GetProperty("amount_micros").GetInt64()));
            Assert.Equal(HttpStatusCode.OK, (await gw.Http.GetAsync("/healthz")).StatusCode);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task BadConfiguration_ExitsNonZero_WithOneLinePerSetting()
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "TokenGateway.dll"),
            "--urls", "http://127.0.0.1:0", "--TokenGateway:Upstream:BaseUrl=not-a-url", "--TokenGateway:Pricing:File=/nonexistent/pricing.json"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)));

        Assert.NotEqual(0, process.ExitCode);
        var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.InRange(lines.Length, 1, 2);
        Assert.All(lines, l => Assert.StartsWith("TokenGateway: configuration error: TokenGateway:", l));
        Assert.Contains(lines, l => l.Contains("Pricing:File") || l.Contains("Upstream:BaseUrl"));
        Assert.DoesNotContain(lines, l => l.Contains("   at "));
    }

    [Fact]
    public async Task TelemetrySettings_AreValidatedAtStart()
    {
        var e = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            GatewayHost.StartAsync(redis, new Dictionary<string, string> { ["Telemetry:BalanceRefreshSeconds"] = "0" }));
        Assert.Contains("TokenGateway:Telemetry:BalanceRefreshSeconds", e.Message);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 100 && !await condition(); i++) await Task.Delay(50);
        Assert.True(await condition());
    }
}
