using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Pricing;

/// <summary>
/// Every price dimension through a real gateway and the shipped price list: the exact micro-USD debit,
/// with the arithmetic in a comment, and the ledger entry that shows it line by line.
/// </summary>
public sealed class BilledDimensionsTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private const long Funded = 10_000_000;
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _gw = await GatewayHost.StartAsync(redis);
        _gw.Upstream.Options.PromptTokens = 1000;
        _gw.Upstream.Options.CachedTokens = 0;
        _gw.Upstream.Options.CompletionTokens = 500;
    }

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private async Task<(string Account, string Key)> FundedAsync()
    {
        var account = "dims-" + Guid.NewGuid().ToString("N")[..8];
        return (account, await _gw.FundedKeyAsync(account, Funded / 1_000_000m));
    }

    private async Task<long> DebitedAsync(string account)
    {
        for (var i = 0; i < 100 && await _gw.HeldMicrosAsync(account) != 0; i++) await Task.Delay(50);
        Assert.Equal(0, await _gw.HeldMicrosAsync(account));
        return Funded - await _gw.BalanceMicrosAsync(account);
    }

    private async Task<JsonElement> DebitEntryAsync(string account) =>
        (await _gw.LedgerAsync(account)).Single(e => e.GetProperty("type").GetString() == "debit");

    private async Task<string> StreamAsync(string key, string path, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", key);
        using var r = await _gw.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var events = new StringBuilder();
        await foreach (var item in SseParser.Create(await r.Content.ReadAsStreamAsync()).EnumerateAsync()) events.AppendLine(item.Data);
        return events.ToString();
    }

    [Fact]
    public async Task CachedInput_WithSdk_AtTheCachedPrice()
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.CachedTokens = 600;

        ChatCompletion c = await _gw.OpenAI(key).GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("hi")]);

        Assert.Equal(600, c.Usage.InputTokenDetails.CachedTokenCount);
        // gpt-4o: 400 × 2.50 + 600 × 1.25 + 500 × 10 = 1000 + 750 + 5000
        Assert.Equal(6750, await DebitedAsync(account));
    }

    [Fact]
    public async Task AudioInAndOut_WithSdk_EachAtItsOwnPrice()
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.AudioInputTokens = 400;
        _gw.Upstream.Options.AudioOutputTokens = 100;

        ChatCompletion c = await _gw.OpenAI(key).GetChatClient("gpt-audio").CompleteChatAsync([new UserChatMessage("say hi")]);

        Assert.Equal(400, c.Usage.InputTokenDetails.AudioTokenCount);
        Assert.Equal(100, c.Usage.OutputTokenDetails.AudioTokenCount);
        // gpt-audio: text in 600 × 2.50 + audio in 400 × 32 + text out 400 × 10 + audio out 100 × 64 = 1500 + 12800 + 4000 + 6400
        Assert.Equal(24_700, await DebitedAsync(account));
        var debit = await DebitEntryAsync(account);
        Assert.Equal(400, debit.GetProperty("audio_input_tokens").GetInt64());
        Assert.Equal(100, debit.GetProperty("audio_output_tokens").GetInt64());
        var lines = debit.GetProperty("line_items").EnumerateArray().ToDictionary(l => l.GetProperty("line_item").GetString()!);
        Assert.Equal(0.0128m, lines["audio_input"].GetProperty("amount_usd").GetDecimal());
        Assert.Equal(100, lines["audio_output"].GetProperty("quantity").GetInt64());
        Assert.Equal(Funded - 24_700, debit.GetProperty("balance_micros").GetInt64());
    }

    [Fact]
    public async Task AudioStreamed_WithSdk_EachAtItsOwnPrice()
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.AudioInputTokens = 400;
        _gw.Upstream.Options.AudioOutputTokens = 100;
        ChatTokenUsage? usage = null;

        await foreach (var update in _gw.OpenAI(key).GetChatClient("gpt-audio").CompleteChatStreamingAsync([new UserChatMessage("say hi")]))
            usage ??= update.Usage;

        Assert.Equal(400, usage!.InputTokenDetails.AudioTokenCount);
        Assert.Equal(24_700, await DebitedAsync(account));
    }

    [Fact]
    public async Task ReasoningTokens_WithSdk_AreOutput_AndRecorded()
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.ReasoningTokens = 400;

        ChatCompletion c = await _gw.OpenAI(key).GetChatClient("o3").CompleteChatAsync([new UserChatMessage("think")]);

        Assert.Equal(400, c.Usage.OutputTokenDetails.ReasoningTokenCount);
        // o3: 1000 × 2 + 500 × 8 (the 400 reasoning tokens are inside the 500 output tokens)
        Assert.Equal(6000, await DebitedAsync(account));
        Assert.Equal(400, (await DebitEntryAsync(account)).GetProperty("reasoning_tokens").GetInt64());
    }

    [Theory]
    [InlineData("o3", "flex", 3000)]            // published flex: 1000 × 1 + 500 × 4
    [InlineData("o3", "priority", 10_500)]      // published priority: 1000 × 3.5 + 500 × 14
    [InlineData("o3", "default", 6000)]         // standard: 1000 × 2 + 500 × 8
    [InlineData("gpt-4o-mini", "flex", 225)]    // no published flex price: standard × 0.5 = (1000 × 0.15 + 500 × 0.6) / 2
    [InlineData("gpt-4o", "priority", 12_750)]  // published priority: 1000 × 4.25 + 500 × 17
    public async Task ServiceTier_FromTheResponse_SelectsItsPrices(string model, string tier, long expected)
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.ServiceTier = tier;

        await _gw.OpenAI(key).GetChatClient(model).CompleteChatAsync([new UserChatMessage("hi")]);

        Assert.Equal(expected, await DebitedAsync(account));
        Assert.Equal(tier, (await DebitEntryAsync(account)).GetProperty("service_tier").GetString());
    }

    [Fact]
    public async Task ServiceTier_Streamed_FromTheResponse()
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.ServiceTier = "priority";

        var events = await StreamAsync(key, "/v1/chat/completions", """{"model":"o3","stream":true,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Contains("\"service_tier\":\"priority\"", events);
        Assert.Equal(10_500, await DebitedAsync(account));
    }

    [Fact]
    public async Task PriorityRequested_HoldsThePriorityPrice()
    {
        var (account, key) = await FundedAsync();
        var release = new TaskCompletionSource();
        _gw.Upstream.Options.HoldStream = release.Task;   // the stream waits after its first event, so the hold can be read
        _gw.Upstream.Options.CompletionTokens = 10;
        var pending = StreamAsync(key, "/v1/chat/completions", """{"model":"o3","stream":true,"service_tier":"priority","max_completion_tokens":1000,"messages":[{"role":"user","content":"hi"}]}""");
        for (var i = 0; i < 100 && await _gw.HeldMicrosAsync(account) == 0; i++) await Task.Delay(50);

        // o3 priority: output 14 µ$ a token, so 1000 × 14 = 14,000 µ$ of output, plus the input bound at 3.5 µ$ a token:
        // 32 per request + 8 "messages" + 8 message + "role" 4 + "user" 4 + "content" 7 + "hi" 2 = 65 tokens, 227.5 → 228 µ$.
        Assert.Equal(14_000 + 228, await _gw.HeldMicrosAsync(account));
        release.SetResult();
        await pending;
        // 1000 × 3.5 + 10 × 14 = 3,640 (the mock reports the priority tier when asked for it)
        Assert.Equal(3640, await DebitedAsync(account));
    }

    [Fact]
    public async Task LongContext_AboveTheThreshold_AtTheLongContextRate()
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.PromptTokens = 300_000;
        _gw.Upstream.Options.CachedTokens = 100_000;

        await _gw.OpenAI(key).GetChatClient("gpt-5.4").CompleteChatAsync([new UserChatMessage("a long document")]);

        // gpt-5.4 above 271,999 prompt tokens: 200,000 × 5 + 100,000 × 0.5 + 500 × 22.5 = 1,000,000 + 50,000 + 11,250
        Assert.Equal(1_061_250, await DebitedAsync(account));
    }

    [Fact]
    public async Task LongContext_Streamed_AtTheLongContextRate()
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.PromptTokens = 300_000;

        await StreamAsync(key, "/v1/responses", """{"model":"gpt-5.4","stream":true,"input":"a long document"}""");

        // 300,000 × 5 + 500 × 22.5 = 1,500,000 + 11,250
        Assert.Equal(1_511_250, await DebitedAsync(account));
    }

    [Fact]
    public async Task Responses_ToolCalls_ArePricedPerCall_AndShownAsLineItems()
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.WebSearchCalls = 2;
        _gw.Upstream.Options.FileSearchCalls = 1;

        var r = await _gw.PostAsync(key, "/v1/responses",
            """{"model":"gpt-4o","input":"news?","tools":[{"type":"web_search"},{"type":"file_search","vector_store_ids":["vs_1"]}],"max_tool_calls":3}""");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        // gpt-4o: 1000 × 2.50 + 500 × 10 + 2 web searches × $10/1k + 1 file search × $2.50/1k = 2500 + 5000 + 20000 + 2500
        Assert.Equal(30_000, await DebitedAsync(account));
        var debit = await DebitEntryAsync(account);
        Assert.Equal(2, debit.GetProperty("web_search_calls").GetInt64());
        Assert.Equal(1, debit.GetProperty("file_search_calls").GetInt64());
        var lines = debit.GetProperty("line_items").EnumerateArray()
            .Select(l => $"{l.GetProperty("line_item").GetString()}:{l.GetProperty("quantity").GetInt64()}:{l.GetProperty("amount_usd").GetDecimal()}").ToList();
        Assert.Equal(["input:1000:0.0025", "output:500:0.005", "web_search_call:2:0.02", "file_search_call:1:0.0025"], lines);

        var report = await _gw.Admin.GetFromJsonAsync<JsonElement>($"/admin/accounts/{account}/usage?group_by=model");
        var row = report.GetProperty("data").EnumerateArray().Single();
        Assert.Equal("gpt-4o", row.GetProperty("model").GetString());
        Assert.Equal(2, row.GetProperty("web_search_calls").GetInt64());
        Assert.Equal(1, row.GetProperty("file_search_calls").GetInt64());
        Assert.Equal(30_000, row.GetProperty("cost_micros").GetInt64());
    }

    [Fact]
    public async Task Responses_ToolCalls_Streamed_ArePricedPerCall()
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.WebSearchCalls = 2;
        _gw.Upstream.Options.FileSearchCalls = 1;

        var events = await StreamAsync(key, "/v1/responses", """{"model":"gpt-4o","stream":true,"input":"news?","tools":[{"type":"web_search"}]}""");

        Assert.Contains("web_search_call", events);
        Assert.Equal(30_000, await DebitedAsync(account));
    }

    [Fact]
    public async Task OwnPrices_ForProModelsAndDatedSnapshots_AndASuffixIsRefused()
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.PromptTokens = 100;
        _gw.Upstream.Options.CompletionTokens = 10;
        var client = _gw.OpenAI(key);

        await client.GetChatClient("o1-pro").CompleteChatAsync([new UserChatMessage("hi")]);
        // o1-pro, never o1: 100 × 150 + 10 × 600 = 15,000 + 6,000
        Assert.Equal(21_000, await DebitedAsync(account));

        await client.GetChatClient("gpt-4o-2024-05-13").CompleteChatAsync([new UserChatMessage("hi")]);
        // the May 2024 snapshot at its own price, not gpt-4o's: 100 × 5 + 10 × 15 = 650
        Assert.Equal(21_650, await DebitedAsync(account));

        await client.GetChatClient("gpt-4o-2024-08-06").CompleteChatAsync([new UserChatMessage("hi")]);
        // a snapshot listed under gpt-4o: 100 × 2.5 + 10 × 10 = 350
        Assert.Equal(22_000, await DebitedAsync(account));

        var upstreamBefore = _gw.Upstream.Requests.Count;
        var e = await Assert.ThrowsAsync<ClientResultException>(() => client.GetChatClient("o1-pro-ultra").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(400, e.Status);
        Assert.Contains("model_not_priced", e.Message);
        Assert.Equal(upstreamBefore, _gw.Upstream.Requests.Count);
        Assert.Equal(22_000, await DebitedAsync(account));

        var models = (await _gw.LedgerAsync(account)).Where(l => l.GetProperty("type").GetString() == "debit").Select(l => l.GetProperty("model").GetString()).ToList();
        Assert.Equal(["o1-pro", "gpt-4o-2024-05-13", "gpt-4o-2024-08-06"], models);
    }
}
