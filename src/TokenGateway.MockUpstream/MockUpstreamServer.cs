using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace TokenGateway.MockUpstream;

/// <summary>
/// An OpenAI-compatible upstream with deterministic <c>usage</c>, for tests, the quickstart and
/// benchmarks. Chat Completions, legacy Completions, Responses (streaming and not), Embeddings, Models.
/// </summary>
public sealed class MockUpstreamServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedRequest> _requests = new();

    private MockUpstreamServer(WebApplication app, MockUpstreamOptions options)
    {
        _app = app;
        Options = options;
    }

    public MockUpstreamOptions Options { get; }

    /// <summary>Origin to use as the gateway's <c>Upstream:BaseUrl</c>, e.g. <c>http://127.0.0.1:5123</c>.</summary>
    public string BaseUrl { get; private set; } = "";

    public IReadOnlyCollection<ReceivedRequest> Requests => _requests;

    public static async Task<MockUpstreamServer> StartAsync(MockUpstreamOptions? options = null, string url = "http://127.0.0.1:0", bool recordRequests = true)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new MockUpstreamServer(app, options ?? new MockUpstreamOptions());
        server.Map(recordRequests);
        await app.StartAsync();
        server.BaseUrl = app.Urls.First().TrimEnd('/');
        return server;
    }

    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private void Map(bool recordRequests)
    {
        _app.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = new[] { new { id = "gpt-4o-mini", @object = "model", created = 1721172741, owned_by = "system" } } }));
        _app.MapPost("/v1/{**endpoint}", async (HttpContext context, string endpoint) =>
        {
            var body = await new StreamReader(context.Request.Body, Encoding.UTF8).ReadToEndAsync(context.RequestAborted);
            if (recordRequests)
            {
                var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
                _requests.Enqueue(new ReceivedRequest("POST", context.Request.Path, context.Request.Headers.Authorization, headers, body));
            }
            var o = Options;
            // NOTE: the x-mock-* request headers do per request what the options do for every request, for scripts
            // that drive a stand-alone mock through the gateway (which forwards them), e.g. deploy/check-prometheus.sh.
            var delay = o.Delay + TimeSpan.FromMilliseconds(HeaderInt(context, "x-mock-delay-ms") ?? 0);
            if (delay > TimeSpan.Zero) await Task.Delay(delay, context.RequestAborted);
            if ((o.FailWithStatus ?? HeaderInt(context, "x-mock-status")) is int status)
            {
                context.Response.StatusCode = status;
                await context.Response.WriteAsJsonAsync(new { error = new { message = "The mock upstream failed on purpose.", type = "server_error", param = (string?)null, code = "mock_failure" } });
                return;
            }
            var request = JsonNode.Parse(body)!.AsObject();
            var reply = new Reply(context, request, o);
            switch (endpoint)
            {
                case "chat/completions": await reply.ChatAsync(); break;
                case "completions": await reply.CompletionAsync(); break;
                case "responses": await reply.ResponsesAsync(); break;
                case "embeddings": await reply.EmbeddingsAsync(); break;
                default: context.Response.StatusCode = 404; break;
            }
        });
    }

    private static int? HeaderInt(HttpContext context, string name) =>
        int.TryParse(context.Request.Headers[name], System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>Builds one answer. Output is "w0 w1 …": one word per output token.</summary>
    private sealed class Reply(HttpContext context, JsonObject request, MockUpstreamOptions o)
    {
        private readonly string _model = request["model"]?.GetValue<string>() ?? "unknown";
        private readonly bool _stream = request["stream"]?.GetValue<bool>() == true;
        private readonly string _id = "mock-" + Guid.NewGuid().ToString("N")[..12];

        private int PromptTokens => o.PromptTokens ?? CountWords(request["messages"] ?? request["input"] ?? request["prompt"]);

        private int OutputTokens(params string[] limitFields)
        {
            var n = o.CompletionTokens;
            foreach (var field in limitFields)
                if (request[field] is JsonValue v && v.TryGetValue<int>(out var limit)) n = Math.Min(n, limit);
            return n;
        }

        private static string Words(int n) => string.Join(' ', Enumerable.Range(0, n).Select(i => "w" + i));

        private JsonObject ChatUsage(int completion) => new()
        {
            ["prompt_tokens"] = PromptTokens,
            ["completion_tokens"] = completion,
            ["total_tokens"] = PromptTokens + completion,
            ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = o.CachedTokens, ["audio_tokens"] = 0 },
            ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0, ["audio_tokens"] = 0 },
        };

        private JsonObject ResponsesUsage(int output) => new()
        {
            ["input_tokens"] = PromptTokens,
            ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = o.CachedTokens },
            ["output_tokens"] = output,
            ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 },
            ["total_tokens"] = PromptTokens + output,
        };

        public async Task ChatAsync()
        {
            var n = OutputTokens("max_tokens", "max_completion_tokens");
            if (!_stream)
            {
                await WriteJsonAsync(new JsonObject
                {
                    ["id"] = "chatcmpl-" + _id, ["object"] = "chat.completion", ["created"] = 1700000000, ["model"] = _model,
                    ["choices"] = new JsonArray(new JsonObject
                    {
                        ["index"] = 0, ["finish_reason"] = "stop", ["logprobs"] = null,
                        ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = Words(n), ["refusal"] = null },
                    }),
                    ["usage"] = ChatUsage(n),
                    ["system_fingerprint"] = "fp_mock",
                });
                return;
            }
            var includeUsage = request["stream_options"]?["include_usage"]?.GetValue<bool>() == true;
            JsonObject Chunk(JsonObject? delta, string? finish) => new()
            {
                ["id"] = "chatcmpl-" + _id, ["object"] = "chat.completion.chunk", ["created"] = 1700000000, ["model"] = _model,
                ["system_fingerprint"] = "fp_mock",
                ["choices"] = delta is null ? new JsonArray() : new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["logprobs"] = null, ["finish_reason"] = finish }),
            };
            await StreamAsync(n,
                first: Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "", ["refusal"] = null }, null),
                delta: i => Chunk(new JsonObject { ["content"] = (i == 0 ? "" : " ") + "w" + i }, null),
                last: [Chunk(new JsonObject(), "stop"), .. includeUsage ? new[] { WithUsage(Chunk(null, null), ChatUsage(n)) } : []],
                done: true);
        }

        public async Task CompletionAsync()
        {
            var n = OutputTokens("max_tokens");
            if (!_stream)
            {
                await WriteJsonAsync(new JsonObject
                {
                    ["id"] = "cmpl-" + _id, ["object"] = "text_completion", ["created"] = 1700000000, ["model"] = _model,
                    ["choices"] = new JsonArray(new JsonObject { ["text"] = Words(n), ["index"] = 0, ["logprobs"] = null, ["finish_reason"] = "stop" }),
                    ["usage"] = ChatUsage(n),
                });
                return;
            }
            var includeUsage = request["stream_options"]?["include_usage"]?.GetValue<bool>() == true;
            JsonObject Chunk(string? text, string? finish) => new()
            {
                ["id"] = "cmpl-" + _id, ["object"] = "text_completion", ["created"] = 1700000000, ["model"] = _model,
                ["choices"] = text is null ? new JsonArray() : new JsonArray(new JsonObject { ["text"] = text, ["index"] = 0, ["logprobs"] = null, ["finish_reason"] = finish }),
            };
            await StreamAsync(n, first: null, delta: i => Chunk((i == 0 ? "" : " ") + "w" + i, null),
                last: [Chunk("", "stop"), .. includeUsage ? new[] { WithUsage(Chunk(null, null), ChatUsage(n)) } : []],
                done: true);
        }

        public async Task ResponsesAsync()
        {
            var n = OutputTokens("max_output_tokens");
            JsonObject Response(string status, JsonObject? usage) => new()
            {
                ["id"] = "resp_" + _id, ["object"] = "response", ["created_at"] = 1700000000, ["status"] = status, ["model"] = _model,
                ["output"] = status == "completed" ? new JsonArray(new JsonObject
                {
                    ["type"] = "message", ["id"] = "msg_" + _id, ["status"] = "completed", ["role"] = "assistant",
                    ["content"] = new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = Words(n), ["annotations"] = new JsonArray() }),
                }) : new JsonArray(),
                ["usage"] = usage,
            };
            if (!_stream)
            {
                await WriteJsonAsync(Response("completed", ResponsesUsage(n)));
                return;
            }
            var seq = 0;
            JsonObject Event(string type, JsonObject fields)
            {
                fields["type"] = type;
                fields["sequence_number"] = seq++;
                return fields;
            }
            await StreamAsync(n,
                first: Event("response.created", new JsonObject { ["response"] = Response("in_progress", null) }),
                delta: i => Event("response.output_text.delta", new JsonObject { ["item_id"] = "msg_" + _id, ["output_index"] = 0, ["content_index"] = 0, ["delta"] = (i == 0 ? "" : " ") + "w" + i }),
                last: [Event("response.completed", new JsonObject { ["response"] = Response("completed", ResponsesUsage(n)) })],
                done: false,
                eventName: node => node["type"]!.GetValue<string>());
        }

        public async Task EmbeddingsAsync()
        {
            var input = request["input"];
            var count = input is JsonArray a && a.Count > 0 && a[0] is not JsonArray ? a.Count : input is JsonArray b && b.Count > 0 ? b.Count : 1;
            if (input is JsonArray arr && arr.Count > 0 && arr[0] is JsonValue v && v.TryGetValue<int>(out _)) count = 1;
            var base64 = request["encoding_format"]?.GetValue<string>() == "base64";
            var data = new JsonArray();
            for (var i = 0; i < count; i++)
            {
                float[] vector = [0.1f * (i + 1), -0.2f, 0.3f, 0.05f];
                JsonNode embedding = base64
                    ? JsonValue.Create(Convert.ToBase64String(vector.SelectMany(BitConverter.GetBytes).ToArray()))
                    : new JsonArray(vector.Select(f => (JsonNode)JsonValue.Create(f)!).ToArray());
                data.Add(new JsonObject { ["object"] = "embedding", ["index"] = i, ["embedding"] = embedding });
            }
            await WriteJsonAsync(new JsonObject
            {
                ["object"] = "list", ["data"] = data, ["model"] = _model,
                ["usage"] = new JsonObject { ["prompt_tokens"] = PromptTokens, ["total_tokens"] = PromptTokens },
            });
        }

        private static JsonObject WithUsage(JsonObject chunk, JsonObject usage)
        {
            chunk["usage"] = usage;
            return chunk;
        }

        private async Task WriteJsonAsync(JsonObject body)
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(body);
            context.Response.ContentType = "application/json";
            Stream output = context.Response.Body;
            if (o.GzipWhenAccepted && context.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers.ContentEncoding = "gzip";
                await using var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true);
                await gzip.WriteAsync(bytes, context.RequestAborted);
                return;
            }
            context.Response.ContentLength = bytes.Length;
            await output.WriteAsync(bytes, context.RequestAborted);
        }

        private async Task StreamAsync(int deltas, JsonObject? first, Func<int, JsonObject> delta, JsonObject[] last, bool done, Func<JsonObject, string>? eventName = null)
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            var body = context.Response.Body;
            var ct = context.RequestAborted;
            async Task SendAsync(JsonObject node)
            {
                var prefix = eventName is null ? "" : "event: " + eventName(node) + "\n";
                await body.WriteAsync(Encoding.UTF8.GetBytes(prefix + "data: " + node.ToJsonString() + "\n\n"), ct);
                await body.FlushAsync(ct);
            }
            var sent = 0;
            var events = 0;
            async Task AfterEventAsync()
            {
                if (++events == o.HoldAfterEvents && o.HoldStream is { } hold) await hold.WaitAsync(ct);
            }
            if (first is not null)
            {
                await SendAsync(first);
                await AfterEventAsync();
            }
            for (var i = 0; i < deltas; i++)
            {
                if (o.CutStreamAfterDeltas is int cut && sent == cut)
                {
                    // NOTE: Abort() resets the connection, and a reset discards bytes the peer has not read yet:
                    // wait until the sent deltas have been delivered, then die mid-stream.
                    await Task.Delay(300, ct);
                    context.Abort();
                    return;
                }
                await SendAsync(delta(i));
                sent++;
                await AfterEventAsync();
            }
            foreach (var node in last) await SendAsync(node);
            if (done)
            {
                await body.WriteAsync("data: [DONE]\n\n"u8.ToArray(), ct);
                await body.FlushAsync(ct);
            }
        }

        private static int CountWords(JsonNode? node) => node switch
        {
            null => 0,
            JsonValue v when v.TryGetValue<string>(out var s) => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length,
            JsonArray a => a.Sum(CountWords),
            JsonObject obj => CountWords(obj["content"] ?? obj["text"]),
            _ => 0,
        };
    }
}
