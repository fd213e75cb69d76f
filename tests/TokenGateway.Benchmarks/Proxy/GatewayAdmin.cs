using System.Net.Http.Json;
using System.Text.Json;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>A funded account of the benchmark and its key.</summary>
internal sealed record BenchAccount(string Id, string Key, string KeyId);

/// <summary>
/// The benchmark's generously funded account and its key, set up and read through the gateway's admin API, as an
/// operator would. Every gateway arm shares the redis-server, so the account and key serve all of them. With
/// <c>--rate-limits</c> a second account, <see cref="Limited"/>, has the same funding and rate limits on its key (and
/// account): the target <c>gateway+rl</c> sends its key to the default gateway arm, interleaved with the others.
/// </summary>
internal sealed class GatewayAdmin : IDisposable
{

    /// <summary>$100,000: at the mock's usage a request costs a few micro-USD, so no request is ever refused.</summary>
    private const decimal CreditsUsd = 100_000m;

    private readonly HttpClient _admin;

    private GatewayAdmin(string baseUrl, long costMicros)
    {
        _admin = new HttpClient { BaseAddress = new Uri(baseUrl) };
        _admin.DefaultRequestHeaders.Authorization = new("Bearer", ArmServer.AdminToken);
        CostMicros = costMicros;
    }

    public BenchAccount Main { get; private set; } = null!;

    /// <summary>The rate-limited account (<c>--rate-limits</c>), or null.</summary>
    public BenchAccount? Limited { get; private set; }

    public string Key => Main.Key;

    /// <summary>What one benchmark request must cost: the pricing file's price of the mock's fixed usage.</summary>
    public long CostMicros { get; }

    public static async Task<GatewayAdmin> FundAsync(ArmProcess gateway, string? rateLimits, CancellationToken ct)
    {
        var admin = new GatewayAdmin(gateway.BaseUrl, gateway.CostMicros ?? throw new InvalidOperationException("The gateway arm reported no cost."));
        try
        {
            admin.Main = await admin.FundAsync("bench", ct);
            if (rateLimits is not null)
            {
                admin.Limited = await admin.FundAsync("bench-rl", ct);
                await admin.SetRateLimitsAsync(admin.Limited, rateLimits, ct);
            }
            return admin;
        }
        catch
        {
            admin.Dispose();
            throw;
        }
    }

    private async Task<BenchAccount> FundAsync(string account, CancellationToken ct)
    {
        (await _admin.PostAsJsonAsync("/admin/accounts", new { id = account, name = "Benchmark " + account }, ct)).EnsureSuccessStatusCode();
        using var credits = new HttpRequestMessage(HttpMethod.Post, $"/admin/accounts/{account}/credits")
        {
            Content = JsonContent.Create(new { amount_usd = CreditsUsd }),
        };
        credits.Headers.Add("Idempotency-Key", account + "-funding");
        (await _admin.SendAsync(credits, ct)).EnsureSuccessStatusCode();
        var key = await _admin.PostAsJsonAsync($"/admin/accounts/{account}/keys", new { name = "bench" }, ct);
        key.EnsureSuccessStatusCode();
        var created = await key.Content.ReadFromJsonAsync<JsonElement>(ct);
        return new BenchAccount(account, created.GetProperty("key").GetString()!, created.GetProperty("id").GetString()!);
    }

    /// <summary>
    /// Limits far above what a run sends, so each request pays the check and the correction and none is refused.
    /// <c>all</c>: every kind (RPM, TPM, RPD, in flight, and RPM/TPM for the model) on the key and on the account, twelve
    /// limits — the worst case; <c>typical</c>: RPM and TPM on the key, TPM on the account.
    /// </summary>
    private async Task SetRateLimitsAsync(BenchAccount account, string mode, CancellationToken ct)
    {
        object keyLimits = mode == "all"
            ? new { rpm = 1_000_000_000, tpm = 1_000_000_000_000, rpd = 1_000_000_000, max_in_flight = 100_000,
                models = new Dictionary<string, object> { ["gpt-4o-mini"] = new { rpm = 1_000_000_000, tpm = 1_000_000_000_000 } } }
            : new { rpm = 1_000_000_000, tpm = 1_000_000_000_000 };
        object accountLimits = mode == "all" ? keyLimits : new { tpm = 1_000_000_000_000 };
        (await _admin.PutAsJsonAsync($"/admin/keys/{account.KeyId}/rate-limits", keyLimits, ct)).EnsureSuccessStatusCode();
        (await _admin.PutAsJsonAsync($"/admin/accounts/{account.Id}/rate-limits", accountLimits, ct)).EnsureSuccessStatusCode();
    }

    /// <summary>
    /// The balance once no request holds credit any more: after a load run the requests wrk abandoned at its deadline
    /// may still be settling.
    /// </summary>
    public async Task<long> SettledBalanceMicrosAsync(BenchAccount? of, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var account = await _admin.GetFromJsonAsync<JsonElement>($"/admin/accounts/{(of ?? Main).Id}", ct);
            if (account.GetProperty("held_micros").GetInt64() == 0) return account.GetProperty("balance_micros").GetInt64();
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Holds were still open 30 s after the load stopped.");
            await Task.Delay(100, ct);
        }
    }

    public void Dispose() => _admin.Dispose();
}
