using System.Net.Http.Json;
using System.Text.Json;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// The benchmark's one generously funded account and its key, set up and read through the gateway's admin API, as an
/// operator would. Every gateway arm shares the redis-server, so the account and key serve all of them.
/// </summary>
internal sealed class GatewayAdmin : IDisposable
{
    private const string Account = "bench";

    /// <summary>$100,000: at the mock's usage a request costs a few micro-USD, so no request is ever refused.</summary>
    private const decimal CreditsUsd = 100_000m;

    private readonly HttpClient _admin;

    private GatewayAdmin(string baseUrl, long costMicros)
    {
        _admin = new HttpClient { BaseAddress = new Uri(baseUrl) };
        _admin.DefaultRequestHeaders.Authorization = new("Bearer", ArmServer.AdminToken);
        CostMicros = costMicros;
    }

    public string Key { get; private set; } = "";

    /// <summary>What one benchmark request must cost: the pricing file's price of the mock's fixed usage.</summary>
    public long CostMicros { get; }

    public static async Task<GatewayAdmin> FundAsync(ArmProcess gateway, bool rateLimits, CancellationToken ct)
    {
        var admin = new GatewayAdmin(gateway.BaseUrl, gateway.CostMicros ?? throw new InvalidOperationException("The gateway arm reported no cost."));
        try
        {
            await admin.FundAsync(ct);
            if (rateLimits) await admin.SetRateLimitsAsync(ct);
            return admin;
        }
        catch
        {
            admin.Dispose();
            throw;
        }
    }

    private async Task FundAsync(CancellationToken ct)
    {
        (await _admin.PostAsJsonAsync("/admin/accounts", new { id = Account, name = "Benchmark" }, ct)).EnsureSuccessStatusCode();
        using var credits = new HttpRequestMessage(HttpMethod.Post, $"/admin/accounts/{Account}/credits")
        {
            Content = JsonContent.Create(new { amount_usd = CreditsUsd }),
        };
        credits.Headers.Add("Idempotency-Key", "bench-funding");
        (await _admin.SendAsync(credits, ct)).EnsureSuccessStatusCode();
        var key = await _admin.PostAsJsonAsync($"/admin/accounts/{Account}/keys", new { name = "bench" }, ct);
        key.EnsureSuccessStatusCode();
        var created = await key.Content.ReadFromJsonAsync<JsonElement>(ct);
        Key = created.GetProperty("key").GetString()!;
        _keyId = created.GetProperty("id").GetString()!;
    }

    private string _keyId = "";

    /// <summary>Every kind of limit on the key and the account, per model too, far above what a run sends: checked and corrected, never refusing.</summary>
    private async Task SetRateLimitsAsync(CancellationToken ct)
    {
        var limits = new { rpm = 1_000_000_000, tpm = 1_000_000_000_000, rpd = 1_000_000_000, max_in_flight = 100_000,
            models = new Dictionary<string, object> { ["gpt-4o-mini"] = new { rpm = 1_000_000_000, tpm = 1_000_000_000_000 } } };
        (await _admin.PutAsJsonAsync($"/admin/keys/{_keyId}/rate-limits", limits, ct)).EnsureSuccessStatusCode();
        (await _admin.PutAsJsonAsync($"/admin/accounts/{Account}/rate-limits", limits, ct)).EnsureSuccessStatusCode();
    }

    /// <summary>
    /// The balance once no request holds credit any more: after a load run the requests wrk abandoned at its deadline
    /// may still be settling.
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

    public void Dispose() => _admin.Dispose();
}
