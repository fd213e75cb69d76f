using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using TokenGateway.Hosting;
using TokenGateway.Metering;
using TokenGateway.MockUpstream;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>
/// A real gateway (Kestrel on loopback) in front of a real mock upstream, against a real Redis,
/// with an admin client and helpers that go through the admin API as an operator would. The mock serves
/// HTTPS as <c>localhost</c> and refuses a foreign Host, as api.openai.com does; the gateway trusts its
/// self-signed certificate through <c>Upstream:CaCertificateFile</c>.
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    public const string AdminToken = "test-admin-token-0123456789";
    public const string UpstreamKey = "sk-upstream-secret-for-tests";

    private WebApplication _app = null!;
    private string? _caFile;
    private bool _ownsUpstream = true;
    private string? _journal;

    public const string JournalSetting = "Billing:SettleJournal:Directory";

    public MockUpstreamServer Upstream { get; private set; } = null!;
    public string BaseUrl { get; private set; } = "";
    public HttpClient Admin { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public IServiceProvider Services => _app.Services;
    public FakeTimeProvider? Clock { get; private set; }

    /// <param name="settings">Extra configuration, e.g. <c>["Metering:HoldTtlSeconds"] = "5"</c> (under TokenGateway:).</param>
    /// <param name="args">Extra command-line arguments, for settings outside the TokenGateway section.</param>
    /// <param name="sharedUpstream">
    /// A running HTTPS mock to forward to instead of a mock of the gateway's own (<paramref name="upstream"/> is then
    /// ignored): replicas of one deployment share it, and the caller disposes of it.
    /// </param>
    /// <param name="logs">Receives the gateway's logs (none are kept otherwise).</param>
    public static async Task<GatewayHost> StartAsync(RedisServer redis, IDictionary<string, string>? settings = null, FakeTimeProvider? clock = null, MockUpstreamOptions? upstream = null, IEnumerable<string>? args = null,
        MockUpstreamServer? sharedUpstream = null, ILoggerProvider? logs = null)
    {
        var host = await StartAsync(redis.Configuration, settings, clock, upstream, args, sharedUpstream, logs);
        // NOTE: the gateway starts while its Redis connection is still being made (RedisConnector), and on a loaded 2-core
        // machine that can outlast the 1 s deadline of the first call (CI once saw a 503 on a test's first admin call). A
        // test against the fixture's Redis starts once the gateway is ready; one that stopped it goes on after the wait.
        await ChatLoad.EventuallyAsync(async () =>
        {
            using var ready = await host.Http.GetAsync("/readyz");
            return ready.IsSuccessStatusCode;
        }, TimeSpan.FromSeconds(10));
        return host;
    }

    /// <param name="redisConfiguration">A StackExchange.Redis configuration string (a restartable Redis, a cluster).</param>
    /// <remarks>
    /// Each host gets a settle journal directory of its own (removed afterwards), so that replicas and tests never replay
    /// each other's settles, unless <c>Billing:SettleJournal:Directory</c> is given (a restarted gateway's, kept then).
    /// </remarks>
    public static async Task<GatewayHost> StartAsync(string redisConfiguration, IDictionary<string, string>? settings = null, FakeTimeProvider? clock = null, MockUpstreamOptions? upstream = null, IEnumerable<string>? args = null,
        MockUpstreamServer? sharedUpstream = null, ILoggerProvider? logs = null)
    {
        var host = new GatewayHost { Clock = clock, _ownsUpstream = sharedUpstream is null };
        host.Upstream = sharedUpstream ?? await MockUpstreamServer.StartAsync(upstream, https: true);
        host._caFile = Path.Combine(Path.GetTempPath(), $"tokengateway-mock-ca-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(host._caFile, host.Upstream.CertificatePem);
        var config = new Dictionary<string, string>
        {
            ["Upstream:BaseUrl"] = host.Upstream.BaseUrl,
            ["Upstream:CaCertificateFile"] = host._caFile,
            ["Upstream:ApiKey"] = UpstreamKey,
            ["Redis:Configuration"] = redisConfiguration,
            ["Admin:Token"] = AdminToken,
            ["Billing:Url"] = "https://billing.example.com/credits",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string>()) config[k] = v;
        if (!config.ContainsKey(JournalSetting))
        {
            host._journal = Path.Combine(Path.GetTempPath(), $"tokengateway-journal-{Guid.NewGuid():N}");
            config[JournalSetting] = host._journal;
        }
        string[] commandLine = ["--urls", "http://127.0.0.1:0", .. config.Select(kv => $"--TokenGateway:{kv.Key}={kv.Value}"), .. args ?? []];
        try
        {
            host._app = GatewayApplication.Build(commandLine, builder =>
            {
                builder.Logging.ClearProviders();
                if (logs is not null) builder.Logging.AddProvider(logs);
                if (clock is not null) builder.Services.AddSingleton<TimeProvider>(clock);
            });
            await host._app.StartAsync();
        }
        catch
        {
            if (host._ownsUpstream) await host.Upstream.DisposeAsync();
            File.Delete(host._caFile);
            host.DeleteJournal();
            throw;
        }
        host.BaseUrl = host._app.Urls.First().TrimEnd('/');
        host.Http = new HttpClient(host.Settled(new SocketsHttpHandler())) { BaseAddress = new Uri(host.BaseUrl) };
        host.Admin = new HttpClient(host.Settled(new SocketsHttpHandler())) { BaseAddress = new Uri(host.BaseUrl) };
        host.Admin.DefaultRequestHeaders.Authorization = new("Bearer", AdminToken);
        return host;
    }

    /// <summary>
    /// A handler whose response bodies end once the gateway's settles have (<see cref="SettledHandler"/>): what a test
    /// reads after an answer includes its charge. For a client of a test's own, pointed at <see cref="BaseUrl"/>.
    /// </summary>
    public HttpMessageHandler Settled(HttpMessageHandler inner) => new SettledHandler(_app.Services.GetRequiredService<PendingSettles>(), inner);

    /// <summary>Waits for the settles the gateway has started (they run after their answers), for a test that reads Redis itself.</summary>
    public Task SettledAsync() => _app.Services.GetRequiredService<PendingSettles>().WhenSettledAsync(TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Admin.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_ownsUpstream) await Upstream.DisposeAsync();
        if (_caFile is not null) File.Delete(_caFile);
        DeleteJournal();
    }

    private void DeleteJournal()
    {
        if (_journal is not null && Directory.Exists(_journal)) Directory.Delete(_journal, recursive: true);
    }

    /// <summary>The official OpenAI .NET SDK, pointed at the gateway the way a user would.</summary>
    /// <param name="configure">More client options, e.g. an organization or a policy that adds headers.</param>
    public OpenAIClient OpenAI(string key, int maxRetries = 0, Action<OpenAIClientOptions>? configure = null)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri(BaseUrl + "/v1"),
            RetryPolicy = new ClientRetryPolicy(maxRetries),
            Transport = new HttpClientPipelineTransport(new HttpClient(Settled(new SocketsHttpHandler()))),
        };
        configure?.Invoke(options);
        return new(new ApiKeyCredential(key), options);
    }

    public async Task CreateAccountAsync(string id)
    {
        var r = await Admin.PostAsJsonAsync("/admin/accounts", new { id, name = "Team " + id });
        r.EnsureSuccessStatusCode();
    }

    public async Task<(string Id, string Key)> CreateKeyAsync(string account, object? body = null)
    {
        var r = await Admin.PostAsJsonAsync($"/admin/accounts/{account}/keys", body ?? new { name = "test" });
        r.EnsureSuccessStatusCode();
        var json = await r.Content.ReadFromJsonAsync<JsonElement>();
        return (json.GetProperty("id").GetString()!, json.GetProperty("key").GetString()!);
    }

    public async Task AddCreditsAsync(string account, decimal usd, string? idempotencyKey = null, DateTimeOffset? expiresAt = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/admin/accounts/{account}/credits") { Content = JsonContent.Create(new { amount_usd = usd, expires_at = expiresAt }) };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        (await Admin.SendAsync(request)).EnsureSuccessStatusCode();
    }

    /// <summary>A funded account with one key: the usual start of a test.</summary>
    public async Task<string> FundedKeyAsync(string account, decimal usd = 10m)
    {
        await CreateAccountAsync(account);
        if (usd > 0) await AddCreditsAsync(account, usd);
        return (await CreateKeyAsync(account)).Key;
    }

    public async Task<JsonElement> GetAccountAsync(string account)
    {
        var r = await Admin.GetAsync($"/admin/accounts/{account}");
        r.EnsureSuccessStatusCode();
        return await r.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<long> BalanceMicrosAsync(string account) => (await GetAccountAsync(account)).GetProperty("balance_micros").GetInt64();

    public async Task<long> HeldMicrosAsync(string account) => (await GetAccountAsync(account)).GetProperty("held_micros").GetInt64();

    /// <summary>Every ledger entry, following the cursor to the end.</summary>
    public async Task<List<JsonElement>> LedgerAsync(string account, int pageSize = 50)
    {
        var all = new List<JsonElement>();
        string? cursor = null;
        while (true)
        {
            var url = $"/admin/accounts/{account}/ledger?limit={pageSize}" + (cursor is null ? "" : "&cursor=" + cursor);
            var page = await Admin.GetFromJsonAsync<JsonElement>(url);
            all.AddRange(page.GetProperty("data").EnumerateArray());
            if (!page.GetProperty("has_more").GetBoolean()) return all;
            cursor = page.GetProperty("next_cursor").GetString();
        }
    }

    /// <summary>PUT of a JSON body to the admin API; fails the test unless it succeeds.</summary>
    public async Task PutAsync(string path, object body) => (await Admin.PutAsJsonAsync(path, body)).EnsureSuccessStatusCode();

    /// <summary>
    /// Parallel chat completions on gpt-4o with <c>max_tokens</c> = <paramref name="maxTokens"/>; the mock's
    /// options decide what each costs. Returns the status codes.
    /// </summary>
    public async Task<HttpStatusCode[]> ChatManyAsync(string key, int count, int maxTokens = 1000)
    {
        var body = $$"""{"model":"gpt-4o","max_tokens":{{maxTokens}},"messages":[{"role":"user","content":"go"}]}""";
        using var client = new HttpClient(Settled(new SocketsHttpHandler { MaxConnectionsPerServer = 200 })) { BaseAddress = new Uri(BaseUrl) };
        return await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", key);
            using var r = await client.SendAsync(request);
            return r.StatusCode;
        }));
    }

    /// <summary>A raw JSON POST with a gateway key, for what the SDK cannot send (malformed bodies, legacy endpoints).</summary>
    public Task<HttpResponseMessage> PostAsync(string key, string path, string json, string contentType = "application/json", params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, System.Text.Encoding.UTF8) };
        request.Content.Headers.ContentType = new(contentType);
        request.Headers.Authorization = new("Bearer", key);
        foreach (var (name, value) in headers) request.Headers.Add(name, value);
        return Http.SendAsync(request);
    }
}
