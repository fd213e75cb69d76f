using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using StackExchange.Redis;
using TokenGateway.Redis;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Metering;

/// <summary>A gateway with one funded account and keys in every state, shared by the hostile cases.</summary>
public sealed class HostileGateway : IAsyncLifetime
{
    public const string Account = "hostile";
    public const long MaxBodyBytes = 1_500_000;

    public RedisServer Redis { get; } = new();
    public GatewayHost Gw { get; private set; } = null!;
    public Dictionary<string, string?> Keys { get; } = [];

    public async Task InitializeAsync()
    {
        await Redis.InitializeAsync();
        Gw = await GatewayHost.StartAsync(Redis, new Dictionary<string, string> { ["Metering:MaxRequestBodyBytes"] = MaxBodyBytes.ToString() });
        Keys["valid"] = await Gw.FundedKeyAsync(Account, 10m);
        Keys["none"] = null;
        Keys["unknown"] = "tg-this-key-does-not-exist";
        Keys["provider"] = "sk-proj-not-a-gateway-key";
        var (revokedId, revoked) = await Gw.CreateKeyAsync(Account);
        (await Gw.Admin.DeleteAsync($"/admin/keys/{revokedId}")).EnsureSuccessStatusCode();
        Keys["revoked"] = revoked;
        // NOTE: the admin API refuses an expiry in the past, so the key expires by a write to its record.
        var (expiredId, expired) = await Gw.CreateKeyAsync(Account);
        using (var redis = await ConnectionMultiplexer.ConnectAsync(Redis.Configuration))
            await redis.GetDatabase().HashSetAsync(new AccountKeys(Account).Key(expiredId), "expires_ms", 1);
        Keys["expired"] = expired;
        Keys["gpt-4o-only"] = (await Gw.CreateKeyAsync(Account, new { name = "limited", models = new[] { "gpt-4o" } })).Key;
    }

    public async Task DisposeAsync()
    {
        await Gw.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

/// <summary>
/// Hostile and broken input, each case refused with OpenAI's error shape before anything is reserved or
/// forwarded: no upstream request, no balance change, no hold left — and the gateway serves normally after.
/// </summary>
public sealed class HostileRequestTests(HostileGateway fixture) : IClassFixture<HostileGateway>
{
    public sealed record Case(string Name, string Key, string Method, string Path, byte[]? Body, string? ContentType, HttpStatusCode Status, string Code, bool Chunked = false);

    private const string Chat = "/v1/chat/completions";
    private const string Msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] ChatWith(string fields) => U($$"""{"model":"gpt-4o-mini",{{Msgs}}{{(fields.Length > 0 ? "," + fields : "")}}}""");

    private static byte[] Nested(int depth) => U($$"""{"model":"gpt-4o-mini",{{Msgs}},"metadata":{{new string('[', depth)}}{{new string(']', depth)}}}""");

    private static byte[] WithRawBytes(string before, byte[] raw, string after) => [.. U(before), .. raw, .. U(after)];

    private static Case Bad(string name, byte[] body, string code = "invalid_request", string path = Chat) =>
        new(name, "valid", "POST", path, body, "application/json", HttpStatusCode.BadRequest, code);

    private static readonly Case[] All =
    [
        // Keys
        new("no key", "none", "POST", Chat, ChatWith(""), "application/json", HttpStatusCode.Unauthorized, "invalid_api_key"),
        new("unknown key", "unknown", "POST", Chat, ChatWith(""), "application/json", HttpStatusCode.Unauthorized, "invalid_api_key"),
        new("provider key", "provider", "POST", Chat, ChatWith(""), "application/json", HttpStatusCode.Unauthorized, "invalid_api_key"),
        new("revoked key", "revoked", "POST", Chat, ChatWith(""), "application/json", HttpStatusCode.Unauthorized, "invalid_api_key"),
        new("expired key", "expired", "POST", Chat, ChatWith(""), "application/json", HttpStatusCode.Unauthorized, "invalid_api_key"),
        new("revoked key, model list", "revoked", "GET", "/v1/models", null, null, HttpStatusCode.Unauthorized, "invalid_api_key"),
        new("expired key, model list", "expired", "GET", "/v1/models", null, null, HttpStatusCode.Unauthorized, "invalid_api_key"),
        new("expired key, one model", "expired", "GET", "/v1/models/gpt-4o", null, null, HttpStatusCode.Unauthorized, "invalid_api_key"),
        new("no key, model list", "none", "GET", "/v1/models", null, null, HttpStatusCode.Unauthorized, "invalid_api_key"),
        new("model not allowed for the key", "gpt-4o-only", "POST", Chat, ChatWith(""), "application/json", HttpStatusCode.Forbidden, "model_not_allowed"),
        // Methods and paths
        new("GET a metered endpoint", "valid", "GET", Chat, null, null, HttpStatusCode.MethodNotAllowed, "method_not_allowed"),
        new("HEAD a metered endpoint", "valid", "HEAD", Chat, null, null, HttpStatusCode.MethodNotAllowed, "method_not_allowed"),
        new("PUT a metered endpoint", "valid", "PUT", Chat, ChatWith(""), "application/json", HttpStatusCode.MethodNotAllowed, "method_not_allowed"),
        new("DELETE the model list", "valid", "DELETE", "/v1/models/gpt-4o", null, null, HttpStatusCode.MethodNotAllowed, "method_not_allowed"),
        new("HEAD the model list", "valid", "HEAD", "/v1/models", null, null, HttpStatusCode.MethodNotAllowed, "method_not_allowed"),
        new("unmetered endpoint", "valid", "POST", "/v1/audio/speech", ChatWith(""), "application/json", HttpStatusCode.NotFound, "unknown_url"),
        new("files endpoint", "valid", "GET", "/v1/files", null, null, HttpStatusCode.NotFound, "unknown_url"),
        new("path that looks like chat", "valid", "POST", "/v1/chat/completions/x", ChatWith(""), "application/json", HttpStatusCode.NotFound, "unknown_url"),
        // Content type and framing
        new("text/plain", "valid", "POST", Chat, ChatWith(""), "text/plain", HttpStatusCode.BadRequest, "invalid_request"),
        new("no content type", "valid", "POST", Chat, ChatWith(""), null, HttpStatusCode.BadRequest, "invalid_request"),
        new("form content type", "valid", "POST", Chat, U("model=gpt-4o-mini"), "application/x-www-form-urlencoded", HttpStatusCode.BadRequest, "invalid_request"),
        new("body over the limit", "valid", "POST", Chat, ChatWith($"\"user\":\"{new string('a', (int)HostileGateway.MaxBodyBytes)}\""), "application/json", HttpStatusCode.RequestEntityTooLarge, "request_too_large"),
        new("chunked body over the limit", "valid", "POST", Chat, ChatWith($"\"user\":\"{new string('a', (int)HostileGateway.MaxBodyBytes)}\""), "application/json", HttpStatusCode.RequestEntityTooLarge, "request_too_large", Chunked: true),
        // Not JSON, not an object
        Bad("empty body", []),
        Bad("whitespace body", U("   ")),
        Bad("array body", U("[1,2]")),
        Bad("string body", U("\"gpt-4o-mini\"")),
        Bad("number body", U("42")),
        Bad("null body", U("null")),
        Bad("truncated JSON", U($$"""{"model":"gpt-4o-mini",{{Msgs[..20]}}""")),
        Bad("trailing garbage", U($$"""{"model":"gpt-4o-mini",{{Msgs}}} x""")),
        Bad("two objects", U($$"""{"model":"gpt-4o-mini",{{Msgs}}}{"model":"gpt-4o"}""")),
        Bad("single quotes", U("{'model':'gpt-4o-mini'}")),
        Bad("trailing comma", U($$"""{"model":"gpt-4o-mini",{{Msgs}},}""")),
        Bad("comment", U($$"""{"model":"gpt-4o-mini",/* hi */{{Msgs}}}""")),
        // Encoding
        Bad("invalid UTF-8 in a string", WithRawBytes("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"", [0xC3, 0x28], "\"}]}")),
        Bad("invalid UTF-8 in a name", WithRawBytes("{\"model\":\"gpt-4o-mini\",\"", [0xFF], "\":1," + Msgs + "}")),
        Bad("overlong UTF-8", WithRawBytes("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"", [0xC0, 0x80], "\"}]}")),
        Bad("UTF-8 surrogate bytes", WithRawBytes("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"", [0xED, 0xA0, 0xBD], "\"}]}")),
        Bad("truncated UTF-8 sequence", WithRawBytes("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"", [0xF0, 0x9F, 0x98], "\"}]}")),
        Bad("UTF-16 body", Encoding.Unicode.GetBytes($$"""{"model":"gpt-4o-mini",{{Msgs}}}""")),
        Bad("lone high surrogate escape", U("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"cut \ud83d"}]}""")),
        Bad("lone low surrogate escape", U("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\ude00 tail"}]}""")),
        Bad("reversed surrogate pair", U("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\ude00\ud83d"}]}""")),
        Bad("surrogate escape in a name", U("""{"model":"gpt-4o-mini","\ud83d":1,"messages":[]}""")),
        Bad("surrogate escape in the model", U("""{"model":"gpt-4o-mini\udbff","messages":[]}""")),
        Bad("surrogate escape deep in tools", U("""{"model":"gpt-4o-mini","messages":[],"tools":[{"type":"function","function":{"name":"f","description":"\uD800x"}}]}""")),
        Bad("nested 129 deep", Nested(128)),
        Bad("nested 300 deep", Nested(300)),
        // Metered fields: missing, wrong type, out of range
        Bad("no model", U($$"""{{{Msgs}}}""")),
        Bad("model null", U($$"""{"model":null,{{Msgs}}}""")),
        Bad("model empty", U($$"""{"model":"",{{Msgs}}}""")),
        Bad("model a number", U($$"""{"model":4,{{Msgs}}}""")),
        Bad("model an object", U($$"""{"model":{"id":"gpt-4o-mini"},{{Msgs}}}""")),
        Bad("stream a string", ChatWith("\"stream\":\"yes\"")),
        Bad("stream a number", ChatWith("\"stream\":1")),
        Bad("max_tokens zero", ChatWith("\"max_tokens\":0")),
        Bad("max_tokens negative", ChatWith("\"max_tokens\":-1")),
        Bad("max_tokens fractional", ChatWith("\"max_tokens\":1.5")),
        Bad("max_tokens a string", ChatWith("\"max_tokens\":\"100\"")),
        Bad("max_tokens beyond int", ChatWith("\"max_tokens\":99999999999")),
        Bad("max_completion_tokens an array", ChatWith("\"max_completion_tokens\":[1]")),
        Bad("n zero", ChatWith("\"n\":0")),
        Bad("n 129", ChatWith("\"n\":129")),
        Bad("n a string", ChatWith("\"n\":\"2\"")),
        Bad("best_of 1000", U("""{"model":"gpt-3.5-turbo-instruct","prompt":"x","best_of":1000}"""), path: "/v1/completions"),
        Bad("stream_options a string", ChatWith("\"stream\":true,\"stream_options\":\"x\"")),
        Bad("stream_options an array", ChatWith("\"stream\":true,\"stream_options\":[1]")),
        Bad("include_usage a string", ChatWith("\"stream\":true,\"stream_options\":{\"include_usage\":\"yes\"}")),
        Bad("include_usage twice", ChatWith("\"stream\":true,\"stream_options\":{\"include_usage\":false,\"include_usage\":true}")),
        Bad("service_tier a number", ChatWith("\"service_tier\":5")),
        Bad("max_tool_calls zero", U("""{"model":"gpt-4o-mini","input":"x","max_tool_calls":0}"""), path: "/v1/responses"),
        Bad("embeddings streamed", U("""{"model":"text-embedding-3-small","input":"x","stream":true}"""), path: "/v1/embeddings"),
        // Duplicate metered keys: parsers disagree on which wins
        Bad("model twice", U($$"""{"model":"gpt-4o-mini","model":"o1-pro",{{Msgs}}}""")),
        Bad("stream twice", ChatWith("\"stream\":false,\"stream\":true")),
        Bad("stream_options twice", ChatWith("\"stream\":true,\"stream_options\":{},\"stream_options\":{\"include_usage\":true}")),
        Bad("max_tokens twice", ChatWith("\"max_tokens\":1,\"max_tokens\":100000")),
        Bad("max_completion_tokens twice", ChatWith("\"max_completion_tokens\":1,\"max_completion_tokens\":100000")),
        Bad("max_output_tokens twice", U("""{"model":"gpt-4o-mini","input":"x","max_output_tokens":16,"max_output_tokens":100000}"""), path: "/v1/responses"),
        Bad("n twice", ChatWith("\"n\":1,\"n\":128")),
        Bad("best_of twice", U("""{"model":"gpt-3.5-turbo-instruct","prompt":"x","best_of":1,"best_of":20}"""), path: "/v1/completions"),
        Bad("service_tier twice", ChatWith("\"service_tier\":\"flex\",\"service_tier\":\"priority\"")),
        Bad("escaped duplicate of model", U($$"""{"model":"gpt-4o-mini","\u006dodel":"o1-pro",{{Msgs}}}""")),
        // Models: priced exactly, quoted briefly
        Bad("unpriced model", U($$"""{"model":"llama-3-70b",{{Msgs}}}"""), "model_not_priced"),
        Bad("priced model with a suffix", U($$"""{"model":"gpt-4o-mini-turbo-max",{{Msgs}}}"""), "model_not_priced"),
        Bad("dated snapshot of an entry without them", U($$"""{"model":"gpt-4o-mini-2099-01-01",{{Msgs}}}"""), "model_not_priced"),
        Bad("model with CR LF", U($$"""{"model":"gpt-4o-mini\r\nX-Evil: 1",{{Msgs}}}"""), "model_not_priced"),
        Bad("model with NUL", U($$"""{"model":"gpt-4o-mini\u0000",{{Msgs}}}"""), "model_not_priced"),
        Bad("model of a megabyte", U($$"""{"model":"gpt-4o-mini{{new string('x', 1_000_000)}}",{{Msgs}}}"""), "model_not_priced"),
        Bad("embedding model on chat", U($$"""{"model":"text-embedding-3-small",{{Msgs}}}"""), "model_not_priced"),
        // Quota: an explicit limit the balance cannot pay for
        new("unaffordable max_tokens", "valid", "POST", Chat, U($$"""{"model":"o1-pro",{{Msgs}},"max_tokens":100000}"""), "application/json", (HttpStatusCode)429, "credit_balance_exhausted"),
        new("unaffordable n", "valid", "POST", Chat, U($$"""{"model":"o1-pro",{{Msgs}},"max_tokens":1000,"n":128}"""), "application/json", (HttpStatusCode)429, "credit_balance_exhausted"),
    ];

    public static TheoryData<string> Names() => [.. All.Select(c => c.Name)];

    [Fact]
    public void TheTableHasEnoughCases() => Assert.True(All.Length >= 60, $"{All.Length} cases");

    [Theory]
    [MemberData(nameof(Names))]
    public async Task HostileRequest_IsRefusedWithOpenAIsShape_AndChangesNothing(string name)
    {
        var c = All.Single(x => x.Name == name);
        var gw = fixture.Gw;
        var upstreamBefore = gw.Upstream.Requests.Count;
        var balanceBefore = await gw.BalanceMicrosAsync(HostileGateway.Account);
        var ledgerBefore = (await gw.LedgerAsync(HostileGateway.Account)).Count;

        using var response = await SendAsync(gw, c);

        Assert.Equal(c.Status, response.StatusCode);
        if (c.Method != "HEAD")
        {
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            var text = await response.Content.ReadAsStringAsync();
            var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
            Assert.Equal(c.Code, error.GetProperty("code").GetString());
            Assert.Equal(c.Status == (HttpStatusCode)429 ? "insufficient_quota" : "invalid_request_error", error.GetProperty("type").GetString());
            Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
            Assert.True(error.TryGetProperty("param", out _));
            // Client strings are quoted briefly, key material never.
            Assert.True(text.Length < 1000, $"an error body of {text.Length} characters");
            foreach (var key in fixture.Keys.Values.OfType<string>()) Assert.DoesNotContain(key, text);
        }
        Assert.Equal(upstreamBefore, gw.Upstream.Requests.Count);
        Assert.Equal(balanceBefore, await gw.BalanceMicrosAsync(HostileGateway.Account));
        Assert.Equal(0, await gw.HeldMicrosAsync(HostileGateway.Account));
        Assert.Equal(ledgerBefore, (await gw.LedgerAsync(HostileGateway.Account)).Count);

        // And the gateway serves the next normal request.
        using var normal = await gw.PostAsync(fixture.Keys["valid"]!, Chat, Encoding.UTF8.GetString(ChatWith("")));
        Assert.Equal(HttpStatusCode.OK, normal.StatusCode);
    }

    private async Task<HttpResponseMessage> SendAsync(GatewayHost gw, Case c)
    {
        using var request = new HttpRequestMessage(new HttpMethod(c.Method), c.Path);
        if (c.Body is not null)
        {
            HttpContent content = c.Chunked ? new StreamContent(new UnknownLengthStream(c.Body)) : new ByteArrayContent(c.Body);
            if (c.ContentType is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(c.ContentType);
            request.Content = content;
        }
        if (fixture.Keys[c.Key] is { } key) request.Headers.Authorization = new("Bearer", key);
        return await gw.Http.SendAsync(request);
    }

    /// <summary>A body whose length HttpClient cannot know, so it is sent chunked.</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
