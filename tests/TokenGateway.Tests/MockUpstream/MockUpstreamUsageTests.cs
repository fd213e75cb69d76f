using System.Net;
using System.Text;
using System.Text.Json;
using TokenGateway.MockUpstream;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.MockUpstream;

/// <summary>
/// The mock's usage contract for billing tests, called directly over HTTPS: every usage detail, the service tier and
/// the Responses tool-call items, from the <c>x-mock-usage</c> header or the options, streamed and not.
/// </summary>
public sealed class MockUpstreamUsageTests : IAsyncLifetime
{
    private const string Everything = """{"prompt_tokens":300000,"cached_tokens":10,"completion_tokens":5,"audio_input_tokens":7,"image_input_tokens":3,"cache_write_tokens":2,"reasoning_tokens":4,"audio_output_tokens":1,"service_tier":"flex","web_search_calls":2,"file_search_calls":1}""";

    private MockUpstreamServer _mock = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _mock = await MockUpstreamServer.StartAsync(https: true);
        _client = MockUpstreamClient.Create(_mock);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _mock.DisposeAsync();
    }

    [Theory]
    [InlineData("/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("/v1/completions", """{"model":"gpt-3.5-turbo-instruct","prompt":"hi"}""")]
    public async Task ChatShapedUsage_NonStreamed_ReportsEveryDetailFromTheHeader(string path, string body)
    {
        var json = await PostJsonAsync(path, body, Everything);

        AssertChatUsage(json.GetProperty("usage"));
        if (path == "/v1/chat/completions") Assert.Equal("flex", json.GetProperty("service_tier").GetString());
    }

    [Fact]
    public async Task Chat_Streamed_ReportsTheTierInEveryChunk_AndEveryDetailInTheUsageChunk()
    {
        var events = await PostStreamAsync("/v1/chat/completions",
            """{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}""", Everything);

        Assert.All(events, e => Assert.Equal("flex", e.GetProperty("service_tier").GetString()));
        AssertChatUsage(events[^1].GetProperty("usage"));
    }

    [Fact]
    public async Task Responses_NonStreamed_ReportsDetailsTierAndToolCallsBeforeTheMessage()
    {
        var json = await PostJsonAsync("/v1/responses", """{"model":"gpt-4o","input":"hi"}""", Everything);

        Assert.Equal("flex", json.GetProperty("service_tier").GetString());
        AssertResponsesOutput(json.GetProperty("output"));
        AssertResponsesUsage(json.GetProperty("usage"));
    }

    [Fact]
    public async Task Responses_Streamed_AddsAndFinishesEachToolCallBeforeTheText_AndCompletesWithEverything()
    {
        var events = await PostStreamAsync("/v1/responses", """{"model":"gpt-4o","input":"hi","stream":true}""", Everything);

        var types = events.Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Equal(
            ["response.created", "response.output_item.added", "response.output_item.done", "response.output_item.added", "response.output_item.done",
             "response.output_item.added", "response.output_item.done"],
            types.Take(7));
        Assert.All(events.Skip(7).SkipLast(1), e => Assert.Equal("response.output_text.delta", e.GetProperty("type").GetString()));
        Assert.All(events.Skip(7).SkipLast(1), e => Assert.Equal(3, e.GetProperty("output_index").GetInt32()));
        var done = events.Where(e => e.GetProperty("type").GetString() == "response.output_item.done").Select(e => e.GetProperty("item")).ToList();
        Assert.Equal(["ws_0", "ws_1", "fs_0"], done.Select(i => i.GetProperty("id").GetString()));
        Assert.All(done, i => Assert.Equal("completed", i.GetProperty("status").GetString()));
        Assert.Equal("flex", events[0].GetProperty("response").GetProperty("service_tier").GetString());
        var completed = events[^1];
        Assert.Equal("response.completed", completed.GetProperty("type").GetString());
        var response = completed.GetProperty("response");
        Assert.Equal("flex", response.GetProperty("service_tier").GetString());
        AssertResponsesOutput(response.GetProperty("output"));
        AssertResponsesUsage(response.GetProperty("usage"));
    }

    [Theory]
    [InlineData(null, null, "default")]
    [InlineData("\"auto\"", null, "default")]
    [InlineData("\"priority\"", null, "priority")]
    [InlineData("\"flex\"", "scale", "scale")]
    public async Task ServiceTier_IsTheConfiguredOne_ElseTheRequested_WithAutoServedAsDefault(string? requested, string? configured, string expected)
    {
        _mock.Options.ServiceTier = configured;
        var tier = requested is null ? "" : $"\"service_tier\":{requested},";

        var chat = await PostJsonAsync("/v1/chat/completions", $$"""{{{tier}}"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""");
        var responses = await PostJsonAsync("/v1/responses", $$"""{{{tier}}"model":"gpt-4o","input":"hi"}""");

        Assert.Equal(expected, chat.GetProperty("service_tier").GetString());
        Assert.Equal(expected, responses.GetProperty("service_tier").GetString());
    }

    [Fact]
    public async Task Options_WithoutHeader_AreReported_AndZeroOptionalDetailsAreLeftOut()
    {
        _mock.Options.ReasoningTokens = 9;
        _mock.Options.AudioInputTokens = 6;
        _mock.Options.WebSearchCalls = 1;

        var chat = (await PostJsonAsync("/v1/chat/completions", """{"model":"o3","messages":[{"role":"user","content":"hi"}]}""")).GetProperty("usage");
        var responses = await PostJsonAsync("/v1/responses", """{"model":"o3","input":"hi"}""");

        Assert.Equal(9, chat.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        Assert.Equal(6, chat.GetProperty("prompt_tokens_details").GetProperty("audio_tokens").GetInt32());
        Assert.False(chat.GetProperty("prompt_tokens_details").TryGetProperty("image_tokens", out _));
        Assert.False(chat.GetProperty("prompt_tokens_details").TryGetProperty("cache_write_tokens", out _));
        var usage = responses.GetProperty("usage");
        Assert.Equal(9, usage.GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        Assert.Equal(6, usage.GetProperty("input_tokens_details").GetProperty("audio_tokens").GetInt32());
        Assert.False(usage.GetProperty("output_tokens_details").TryGetProperty("audio_tokens", out _));
        Assert.Equal(["web_search_call", "message"], responses.GetProperty("output").EnumerateArray().Select(i => i.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task HeaderCompletionTokens_AreStillCappedByTheRequestsOutputLimit()
    {
        var json = await PostJsonAsync("/v1/chat/completions", """{"model":"gpt-4o","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}""",
            """{"completion_tokens":50}""");

        Assert.Equal(20, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(40, json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32()); // the option's default, not overridden
    }

    [Fact]
    public async Task UnknownUsageField_IsRefusedWith400()
    {
        using var r = await PostAsync("/v1/chat/completions", """{"model":"gpt-4o","messages":[]}""", """{"reasoning_token":4}""");

        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("x-mock-usage", await r.Content.ReadAsStringAsync());
    }

    // Everything: 300000 prompt tokens of which 10 cached, 7 audio, 3 image, 2 cache write; 5 completion tokens of which 4 reasoning, 1 audio.
    private static void AssertChatUsage(JsonElement usage)
    {
        Assert.Equal(300000, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(5, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(300005, usage.GetProperty("total_tokens").GetInt32());
        var input = usage.GetProperty("prompt_tokens_details");
        Assert.Equal((10, 7, 3, 2), (Int(input, "cached_tokens"), Int(input, "audio_tokens"), Int(input, "image_tokens"), Int(input, "cache_write_tokens")));
        var output = usage.GetProperty("completion_tokens_details");
        Assert.Equal((4, 1), (Int(output, "reasoning_tokens"), Int(output, "audio_tokens")));
    }

    private static void AssertResponsesUsage(JsonElement usage)
    {
        Assert.Equal(300000, usage.GetProperty("input_tokens").GetInt32());
        Assert.Equal(5, usage.GetProperty("output_tokens").GetInt32());
        var input = usage.GetProperty("input_tokens_details");
        Assert.Equal((10, 7, 3, 2), (Int(input, "cached_tokens"), Int(input, "audio_tokens"), Int(input, "image_tokens"), Int(input, "cache_write_tokens")));
        var output = usage.GetProperty("output_tokens_details");
        Assert.Equal((4, 1), (Int(output, "reasoning_tokens"), Int(output, "audio_tokens")));
    }

    private static void AssertResponsesOutput(JsonElement output)
    {
        var items = output.EnumerateArray().ToList();
        Assert.Equal(["web_search_call", "web_search_call", "file_search_call", "message"], items.Select(i => i.GetProperty("type").GetString()));
        Assert.Equal(
            """{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"mock"}}""",
            items[1].GetRawText());
        Assert.Equal(
            """{"type":"file_search_call","id":"fs_0","status":"completed","queries":["mock"],"results":null}""",
            items[2].GetRawText());
        Assert.Equal("w0 w1 w2 w3 w4", items[3].GetProperty("content")[0].GetProperty("text").GetString());
    }

    private static int Int(JsonElement o, string name) => o.GetProperty(name).GetInt32();

    private async Task<HttpResponseMessage> PostAsync(string path, string body, string? usage)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (usage is not null) request.Headers.Add("x-mock-usage", usage);
        return await _client.SendAsync(request);
    }

    private async Task<JsonElement> PostJsonAsync(string path, string body, string? usage = null)
    {
        using var r = await PostAsync(path, body, usage);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
    }

    /// <summary>The JSON of each SSE <c>data:</c> line, [DONE] left out.</summary>
    private async Task<List<JsonElement>> PostStreamAsync(string path, string body, string? usage = null)
    {
        using var r = await PostAsync(path, body, usage);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return (await r.Content.ReadAsStringAsync()).Split('\n')
            .Where(line => line.StartsWith("data: ", StringComparison.Ordinal) && line != "data: [DONE]")
            .Select(line => JsonDocument.Parse(line["data: ".Length..]).RootElement)
            .ToList();
    }
}
