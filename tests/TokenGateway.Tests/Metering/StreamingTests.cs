using System.ClientModel;
using System.Net;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using TokenGateway.Tests.Infrastructure;
using TokenGateway.Tokenizers;

namespace TokenGateway.Tests.Metering;

public sealed class StreamingTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private GatewayHost _gw = null!;

    public async Task InitializeAsync()
    {
        _gw = await GatewayHost.StartAsync(redis);
        _gw.Upstream.Options.PromptTokens = 1234;
        _gw.Upstream.Options.CachedTokens = 1000;
        _gw.Upstream.Options.CompletionTokens = 20;
    }

    public async Task DisposeAsync() => await _gw.DisposeAsync();

    private async Task<(string Account, string Key)> FundedAsync()
    {
        var account = "strm-" + Guid.NewGuid().ToString("N")[..8];
        return (account, await _gw.FundedKeyAsync(account, 10m));
    }

    private async Task<HttpResponseMessage> StreamAsync(string key, string path, string json, CancellationToken ct = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", key);
        return await _gw.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
    }

    private static async Task<List<string>> EventsAsync(HttpResponseMessage r)
    {
        var list = new List<string>();
        await foreach (var item in SseParser.Create(await r.Content.ReadAsStreamAsync()).EnumerateAsync()) list.Add(item.Data);
        return list;
    }

    private async Task WaitSettledAsync(string account)
    {
        for (var i = 0; i < 100 && await _gw.HeldMicrosAsync(account) != 0; i++) await Task.Delay(50);
        Assert.Equal(0, await _gw.HeldMicrosAsync(account));
    }

    [Fact]
    public async Task ChatStream_WithSdk_DeliversEveryDeltaInOrder_AndDebitsExactFormula()
    {
        var (account, key) = await FundedAsync();
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;

        await foreach (var update in _gw.OpenAI(key).GetChatClient("gpt-4o-mini").CompleteChatStreamingAsync([new UserChatMessage("count")]))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
        }

        Assert.Equal(string.Join(' ', Enumerable.Range(0, 20).Select(i => "w" + i)), text.ToString());
        Assert.Equal(20, usage?.OutputTokenCount);
        // (1234-1000)*0.15 + 1000*0.075 + 20*0.60 = 35.1 + 75 + 12 = 122.1 → 123
        Assert.Equal(10_000_000 - 123, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task ChatStream_WithoutIncludeUsage_ClientGetsNoUsageChunk_ButIsBilled()
    {
        var (account, key) = await FundedAsync();

        var events = await EventsAsync(await StreamAsync(key, "/v1/chat/completions", """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"count"}]}"""));

        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.NotEqual(0, c.GetProperty("choices").GetArrayLength()));
        Assert.DoesNotContain(chunks, c => c.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object);
        Assert.Equal(22, chunks.Count);  // role, 20 deltas, finish
        Assert.Contains("\"include_usage\":true", _gw.Upstream.Requests.Last().Body);
        Assert.Equal(10_000_000 - 123, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task ChatStream_WithIncludeUsage_ClientGetsExactlyOneUsageChunk()
    {
        var (account, key) = await FundedAsync();

        var events = await EventsAsync(await StreamAsync(key, "/v1/chat/completions",
            """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"count"}]}"""));

        var usageChunks = events.Where(e => e != "[DONE]").Select(e => JsonDocument.Parse(e).RootElement)
            .Where(c => c.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object).ToList();
        Assert.Single(usageChunks);
        Assert.Equal(20, usageChunks[0].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(10_000_000 - 123, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task CompletionsStream_DebitsExactFormula_AndHidesUsageChunk()
    {
        var (account, key) = await FundedAsync();

        var events = await EventsAsync(await StreamAsync(key, "/v1/completions", """{"model":"gpt-3.5-turbo-instruct","stream":true,"prompt":"count","max_tokens":50}"""));

        Assert.Equal(22, events.Count);  // 20 deltas, finish, [DONE]
        Assert.DoesNotContain(events, e => e.Contains("\"usage\""));
        // 1234*1.50 + 20*2.00 = 1851 + 40 = 1891
        Assert.Equal(10_000_000 - 1891, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task ResponsesStream_WithSdk_DeliversDeltas_AndDebitsExactFormula()
    {
        var (account, key) = await FundedAsync();
        var text = new StringBuilder();
        long? outputTokens = null;

#pragma warning disable OPENAI001 // the Responses client is marked experimental in the SDK
        await foreach (var update in await _gw.OpenAI(key).GetResponsesClient().CreateResponseStreamingAsync("gpt-4o", "count"))
        {
            if (update is OpenAI.Responses.StreamingResponseOutputTextDeltaUpdate delta) text.Append(delta.Delta);
            if (update is OpenAI.Responses.StreamingResponseCompletedUpdate completed) outputTokens = completed.Response.Usage.OutputTokenCount;
        }
#pragma warning restore OPENAI001

        Assert.Equal(string.Join(' ', Enumerable.Range(0, 20).Select(i => "w" + i)), text.ToString());
        Assert.Equal(20, outputTokens);
        Assert.Equal(10_000_000 - 2035, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task ResponsesStream_TakesUsageFromResponseCompleted()
    {
        var (account, key) = await FundedAsync();

        var events = await EventsAsync(await StreamAsync(key, "/v1/responses", """{"model":"gpt-4o","stream":true,"input":"count"}"""));

        Assert.Contains("response.completed", events[^1]);
        Assert.Equal(22, events.Count);
        // 234*2.50 + 1000*1.25 + 20*10 = 585 + 1250 + 200 = 2035
        Assert.Equal(10_000_000 - 2035, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task UpstreamCutsStreamAfterNDeltas_BillsLocalInputAndStreamedOutput()
    {
        var (account, key) = await FundedAsync();
        _gw.Upstream.Options.CutStreamAfterDeltas = 7;
        var received = new StringBuilder();
        try
        {
            using var r = await StreamAsync(key, "/v1/chat/completions", """{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Tell me a story about a dragon"}]}""");
            var body = await r.Content.ReadAsStreamAsync();
            // YARP ends the client's response when the upstream breaks: the client sees an error or an end without [DONE].
            try
            {
                await foreach (var item in SseParser.Create(body).EnumerateAsync())
                {
                    Assert.NotEqual("[DONE]", item.Data);
                    received.Append(JsonDocument.Parse(item.Data).RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());
                }
            }
            catch (IOException)
            {
            }
        }
        finally
        {
            _gw.Upstream.Options.CutStreamAfterDeltas = null;
        }
        await WaitSettledAsync(account);

        // The 7 deltas went through the gateway; the reset may cost the client the ones it had not read yet.
        var streamed = string.Join(' ', Enumerable.Range(0, 7).Select(i => "w" + i));
        Assert.StartsWith(received.ToString(), streamed);
        var tokenizer = TiktokenTokenizer.CreateForModel("gpt-4o");
        var input = tokenizer.CountTokens("Tell me a story about a dragon") + 3 + 3;  // one message + reply priming
        var output = tokenizer.CountTokens(streamed);
        var expected = (long)Math.Ceiling(input * 2.5 + output * 10.0);
        Assert.Equal(10_000_000 - expected, await _gw.BalanceMicrosAsync(account));
        var debit = (await _gw.LedgerAsync(account))[^1];
        Assert.Equal(output, debit.GetProperty("output_tokens").GetInt64());
        Assert.Equal(input, debit.GetProperty("input_tokens").GetInt64());
    }

    [Fact]
    public async Task ClientDisconnectsAfterNDeltas_BillsLocalInputAndStreamedOutput()
    {
        var (account, key) = await FundedAsync();
        var release = new TaskCompletionSource();
        _gw.Upstream.Options.HoldStream = release.Task;
        _gw.Upstream.Options.HoldAfterEvents = 1 + 5;  // role chunk + 5 deltas, then the upstream waits
        var received = new StringBuilder();
        try
        {
            using (var r = await StreamAsync(key, "/v1/chat/completions", """{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Tell me a story about a dragon"}]}"""))
            {
                var deltas = 0;
                await foreach (var item in SseParser.Create(await r.Content.ReadAsStreamAsync()).EnumerateAsync())
                {
                    var delta = JsonDocument.Parse(item.Data).RootElement.GetProperty("choices")[0].GetProperty("delta");
                    if (!delta.TryGetProperty("content", out var content) || content.GetString() == "") continue;
                    received.Append(content.GetString());
                    if (++deltas == 5) break;  // the client goes away mid-stream
                }
            }
            await WaitSettledAsync(account);
        }
        finally
        {
            _gw.Upstream.Options.HoldStream = null;
            release.TrySetResult();
        }

        Assert.Equal("w1 w2 w3 w4", received.ToString().Trim()[3..]);
        var tokenizer = TiktokenTokenizer.CreateForModel("gpt-4o");
        var input = tokenizer.CountTokens("Tell me a story about a dragon") + 3 + 3;
        var output = tokenizer.CountTokens(received.ToString());
        var expected = (long)Math.Ceiling(input * 2.5 + output * 10.0);
        Assert.Equal(10_000_000 - expected, await _gw.BalanceMicrosAsync(account));
    }

    [Fact]
    public async Task FirstEvent_ReachesClient_BeforeUpstreamFinishes()
    {
        var (account, key) = await FundedAsync();
        var release = new TaskCompletionSource();
        _gw.Upstream.Options.HoldStream = release.Task;
        _gw.Upstream.Options.HoldAfterEvents = 1;
        try
        {
            using var r = await StreamAsync(key, "/v1/chat/completions", """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""");
            var events = SseParser.Create(await r.Content.ReadAsStreamAsync()).EnumerateAsync().GetAsyncEnumerator();

            var first = events.MoveNextAsync().AsTask();
            Assert.True(await Task.WhenAny(first, Task.Delay(TimeSpan.FromSeconds(20))) == first, "the first event did not arrive while the upstream held the rest");
            Assert.False(release.Task.IsCompleted);
            Assert.Equal("assistant", JsonDocument.Parse(events.Current.Data).RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());

            release.SetResult();
            var count = 1;
            while (await events.MoveNextAsync()) count++;
            Assert.Equal(23, count);  // role, 20 deltas, finish, [DONE]
        }
        finally
        {
            _gw.Upstream.Options.HoldStream = null;
            release.TrySetResult();
        }
        Assert.Equal(10_000_000 - 123, await _gw.BalanceMicrosAsync(account));
    }
}
