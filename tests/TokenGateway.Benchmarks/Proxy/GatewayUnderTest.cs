using TokenGateway.Metering;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TokenGateway.Hosting;
using TokenGateway.MockUpstream;
using TokenGateway.Pricing;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// The real gateway (the production wiring, <see cref="GatewayApplication.Build"/>) in front of the mock,
/// against the benchmark's redis-server, with one generously funded account and its key — set up
/// through the admin API, as an operator would.
/// </summary>
internal sealed class GatewayUnderTest : IAsyncDisposable
{
    private const string AdminToken = "bench-admin-token-0123456789";
    private const string Account = "bench";

    /// <summary>$100,000: at the mock's usage a request costs a few micro-USD, so no request is ever refused.</summary>
    private const decimal CreditsUsd = 100_000m;

    private readonly WebApplication _app;
    private readonly HttpClient _admin;

    private GatewayUnderTest(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
        _admin = new HttpClient { BaseAddress = new Uri(baseUrl) };
        _admin.DefaultRequestHeaders.Authorization = new("Bearer", AdminToken);
    }

    public string BaseUrl { get; }
    public string Key { get; private set; } = "";

    /// <summary>What one benchmark request must cost: the pricing file's price of the mock's fixed usage.</summary>
    public long CostMicros { get; private set; }

    public static async Task<GatewayUnderTest> StartAsync(string upstream, string redis, MockUpstreamOptions mock)
    {
        string[] args =
        [
            "--urls", "http://127.0.0.1:0",
            "--contentRoot", AppContext.BaseDirectory,
            $"--TokenGateway:Upstream:BaseUrl={upstream}",
            "--TokenGateway:Upstream:ApiKey=sk-bench-upstream",
            $"--TokenGateway:Redis:Configuration={redis}",
            $"--TokenGateway:Admin:Token={AdminToken}",
        ];
        // NOTE: no logging providers, as in the tests: a console logger would measure the terminal.
        var app = GatewayApplication.Build(args, builder => builder.Logging.ClearProviders());
        await app.StartAsync();
        var gateway = new GatewayUnderTest(app, app.Urls.First().TrimEnd('/'));
        try
        {
            var price = app.Services.GetRequiredService<PricingCatalog>().Current.Find(ChatRequest.Model)
                ?? throw new InvalidOperationException($"{ChatRequest.Model} has no price.");
            gateway.CostMicros = price.Price.Cost(new TokenUsage(mock.PromptTokens ?? throw new InvalidOperationException("The mock must report fixed prompt tokens."),
                mock.CachedTokens, mock.CompletionTokens)).Micros;
            await gateway.FundAsync();
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    private async Task FundAsync()
    {
        (await _admin.PostAsJsonAsync("/admin/accounts", new { id = Account, name = "Benchmark" })).EnsureSuccessStatusCode();
        using var credits = new HttpRequestMessage(HttpMethod.Post, $"/admin/accounts/{Account}/credits")
        {
            Content = JsonContent.Create(new { amount_usd = CreditsUsd }),
        };
        credits.Headers.Add("Idempotency-Key", "bench-funding");
        (await _admin.SendAsync(credits)).EnsureSuccessStatusCode();
        var key = await _admin.PostAsJsonAsync($"/admin/accounts/{Account}/keys", new { name = "bench" });
        key.EnsureSuccessStatusCode();
        Key = (await key.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
    }

    /// <summary>
    /// The balance once no request holds credit any more: after a load run the requests wrk abandoned at
    /// its deadline may still be settling.
    /// </summary>
    public async Task<long> SettledBalanceMicrosAsync(CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var account = await _admin.GetFromJsonAsync<JsonElement>($"/admin/accounts/{Account}", ct);
            if (account.GetProperty("held_micros").GetInt64() == 0) return account.GetProperty("balance_micros").GetInt64();
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Holds were still open 30 s after the load stopped.");
            await Task.Delay(100, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _admin.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
