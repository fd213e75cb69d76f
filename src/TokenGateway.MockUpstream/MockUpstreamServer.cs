using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
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

    private MockUpstreamServer(WebApplication app, MockUpstreamOptions options, X509Certificate2? certificate)
    {
        _app = app;
        Options = options;
        Certificate = certificate;
    }

    public MockUpstreamOptions Options { get; }

    /// <summary>
    /// Origin to use as the gateway's <c>Upstream:BaseUrl</c>, e.g. <c>http://127.0.0.1:5123</c>, or
    /// <c>https://localhost:5123</c> for an HTTPS mock.
    /// </summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>HTTPS mock: its self-signed certificate (also its own root), to trust in a client.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>HTTPS mock: <see cref="Certificate"/> as PEM, e.g. for the gateway's <c>Upstream:CaCertificateFile</c>.</summary>
    public string? CertificatePem => Certificate?.ExportCertificatePem();

    public IReadOnlyCollection<ReceivedRequest> Requests => _requests;

    /// <param name="url">Plain-HTTP listening URL, default <c>http://127.0.0.1:0</c>.</param>
    /// <param name="https">
    /// Serve HTTPS with a self-signed certificate made now, at <c>https://localhost:&lt;free port&gt;</c> (both loopbacks,
    /// no <paramref name="url"/>), and refuse with 421 a request whose <c>Host</c> is not that authority, as a CDN edge does.
    /// </param>
    public static async Task<MockUpstreamServer> StartAsync(MockUpstreamOptions? options = null, string? url = null, bool recordRequests = true, bool https = false)
    {
        options ??= new MockUpstreamOptions();
        if (!https) return await StartAsync(options, recordRequests, certificate: null, port: 0, builder => builder.WebHost.UseUrls(url ?? "http://127.0.0.1:0"));
        if (url is not null) throw new ArgumentException("An HTTPS mock chooses its own loopback port: pass no url.", nameof(url));
        var certificate = MockCertificate.Create();
        for (var attempt = 1; ; attempt++)
        {
            var (port, ipv6) = LoopbackPort();
            try
            {
                return await StartAsync(options, recordRequests, certificate, port, builder => builder.WebHost.ConfigureKestrel(kestrel =>
                {
                    // NOTE: "localhost" may resolve to ::1 first: listen there too, so that the gateway neither waits on
                    // a refused ::1 nor, worse, reaches whatever else holds that port on ::1.
                    // NOTE: a selector rather than the certificate itself: Kestrel fills ITlsHandshakeFeature.HostName (the SNI)
                    // only when it asks a selector.
                    var tls = new HttpsConnectionAdapterOptions { ServerCertificateSelector = (_, _) => certificate };
                    kestrel.Listen(IPAddress.Loopback, port, listen => listen.UseHttps(tls));
                    if (ipv6) kestrel.Listen(IPAddress.IPv6Loopback, port, listen => listen.UseHttps(tls));
                }));
            }
            catch (IOException) when (attempt < 5)
            {
                // Someone took the port between the probe and Kestrel's bind: another one.
            }
        }
    }

    private static async Task<MockUpstreamServer> StartAsync(MockUpstreamOptions options, bool recordRequests, X509Certificate2? certificate, int port, Action<WebApplicationBuilder> listen)
    {
        var builder = WebApplication.CreateSlimBuilder();
        listen(builder);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new MockUpstreamServer(app, options, certificate);
        server.Map(recordRequests, certificate is null ? null : "localhost:" + port);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        server.BaseUrl = certificate is null ? app.Urls.First().TrimEnd('/') : "https://localhost:" + port;
        return server;
    }

    /// <summary>A port free on 127.0.0.1 and, when this machine has IPv6, on ::1 too.</summary>
    private static (int Port, bool Ipv6) LoopbackPort()
    {
        while (true)
        {
            using var v4 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            v4.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)v4.LocalEndPoint!).Port;
            if (!Socket.OSSupportsIPv6) return (port, false);
            try
            {
                using var v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
                v6.Bind(new IPEndPoint(IPAddress.IPv6Loopback, port));
                return (port, true);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
            }
            catch (SocketException)
            {
                return (port, false); // no ::1 here
            }
        }
    }

    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Certificate?.Dispose();
    }

    private void Map(bool recordRequests, string? authority)
    {
        if (authority is not null)
        {
            _app.Use(async (context, next) =>
            {
                // NOTE: as the CDN edge in front of api.openai.com: a Host it does not serve is refused, so a proxy that
                // forwards its own client's Host fails against the mock as it would against the real upstream.
                if (!string.Equals(context.Request.Host.Value, authority, StringComparison.OrdinalIgnoreCase))
                {
                    await WriteErrorAsync(context, StatusCodes.Status421MisdirectedRequest, "invalid_request_error", "misdirected_request",
                        $"Misdirected request: this server does not serve host '{context.Request.Host.Value}'.");
                    return;
                }
                await next(context);
            });
        }
        _app.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = new[] { new { id = "gpt-4o-mini", @object = "model", created = 1721172741, owned_by = "system" } } }));
        _app.MapPost("/v1/{**endpoint}", async (HttpContext context, string endpoint) =>
        {
            var body = await new StreamReader(context.Request.Body, Encoding.UTF8).ReadToEndAsync(context.RequestAborted);
            if (recordRequests)
            {
                var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
                _requests.Enqueue(new ReceivedRequest("POST", context.Request.Path, context.Request.Headers.Authorization, headers, body)
                {
                    Host = context.Request.Host.Value,
                    Sni = context.Features.Get<ITlsHandshakeFeature>()?.HostName,
                    IsHttps = context.Request.IsHttps,
                    Protocol = context.Request.Protocol,
                });
            }
            var o = Options;
            if (o.RateLimitHeaders)
            {
                (string Name, string Value)[] limits = [("limit-requests", "10000"), ("remaining-requests", "9999"), ("reset-requests", "6ms"),
                    ("limit-tokens", "30000000"), ("remaining-tokens", "29999000"), ("reset-tokens", "2ms")];
                foreach (var (name, value) in limits) context.Response.Headers["x-ratelimit-" + name] = value;
            }
            // NOTE: the x-mock-* request headers do per request what the options do for every request, for scripts
            // that drive a stand-alone mock through the gateway (which forwards them), e.g. deploy/check-prometheus.sh.
            var delay = o.Delay + TimeSpan.FromMilliseconds(HeaderInt(context, "x-mock-delay-ms") ?? 0);
            if (delay > TimeSpan.Zero) await Task.Delay(delay, context.RequestAborted);
            if ((o.FailWithStatus ?? HeaderInt(context, "x-mock-status")) is int status)
            {
                await WriteErrorAsync(context, status, "server_error", "mock_failure", "The mock upstream failed on purpose.");
                return;
            }
            MockUsage usage;
            try
            {
                usage = MockUsage.For(o, context.Request.Headers[MockUsage.Header]);
            }
            catch (JsonException e)
            {
                await WriteErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_mock_usage", $"{MockUsage.Header}: {e.Message}");
                return;
            }
            var request = JsonNode.Parse(body)!.AsObject();
            var pace = o.DeltaInterval + TimeSpan.FromMilliseconds(HeaderInt(context, "x-mock-delta-interval-ms") ?? 0);
            var reply = new Reply(context, request, o, usage, pace);
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

    private static Task WriteErrorAsync(HttpContext context, int status, string type, string code, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new { error = new { message, type, param = (string?)null, code } });
    }

    private static int? HeaderInt(HttpContext context, string name) =>
        int.TryParse(context.Request.Headers[name], System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>Builds one answer. Output is "w0 w1 …": one word per output token.</summary>
    private sealed class Reply(HttpContext context, JsonObject request, MockUpstreamOptions o, MockUsage u, TimeSpan pace)
    {
        private readonly string _model = request["model"]?.GetValue<string>() ?? "unknown";
        private readonly bool _stream = request["stream"]?.GetValue<bool>() == true;
        private readonly string _id = "mock-" + Guid.NewGuid().ToString("N")[..12];

        private int PromptTokens => u.PromptTokens ?? CountWords(request["messages"] ?? request["input"] ?? request["prompt"]);

        /// <summary>The configured tier, else the requested one, with "auto" (and no request) served as "default".</summary>
        private string ServiceTier => u.ServiceTier
            ?? (request["service_tier"] is JsonValue v && v.TryGetValue<string>(out var asked) && asked != "auto" ? asked : "default");

        private int OutputTokens(params string[] limitFields)
        {
            var n = u.CompletionTokens;
            foreach (var field in limitFields)
                if (request[field] is JsonValue v && v.TryGetValue<int>(out var limit)) n = Math.Min(n, limit);
            return n;
        }

        private static string Words(int n) => string.Join(' ', Enumerable.Range(0, n).Select(i => "w" + i));

        /// <summary>Fields OpenAI always sends on that endpoint are always there; the others only when not 0.</summary>
        private JsonObject InputDetails(bool chat)
        {
            var details = new JsonObject { ["cached_tokens"] = u.CachedTokens };
            if (chat || u.AudioInputTokens != 0) details["audio_tokens"] = u.AudioInputTokens;
            if (u.ImageInputTokens != 0) details["image_tokens"] = u.ImageInputTokens;
            if (u.CacheWriteTokens != 0) details["cache_write_tokens"] = u.CacheWriteTokens;
            return details;
        }

        private JsonObject OutputDetails(bool chat)
        {
            var details = new JsonObject { ["reasoning_tokens"] = u.ReasoningTokens };
            if (chat || u.AudioOutputTokens != 0) details["audio_tokens"] = u.AudioOutputTokens;
            return details;
        }

        private JsonObject ChatUsage(int completion) => new()
        {
            ["prompt_tokens"] = PromptTokens,
            ["completion_tokens"] = completion,
            ["total_tokens"] = PromptTokens + completion,
            ["prompt_tokens_details"] = InputDetails(chat: true),
            ["completion_tokens_details"] = OutputDetails(chat: true),
        };

        private JsonObject ResponsesUsage(int output) => new()
        {
            ["input_tokens"] = PromptTokens,
            ["input_tokens_details"] = InputDetails(chat: false),
            ["output_tokens"] = output,
            ["output_tokens_details"] = OutputDetails(chat: false),
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
                    ["service_tier"] = ServiceTier,
                    ["system_fingerprint"] = "fp_mock",
                });
                return;
            }
            var includeUsage = request["stream_options"]?["include_usage"]?.GetValue<bool>() == true;
            JsonObject Chunk(JsonObject? delta, string? finish) => new()
            {
                ["id"] = "chatcmpl-" + _id, ["object"] = "chat.completion.chunk", ["created"] = 1700000000, ["model"] = _model,
                ["service_tier"] = ServiceTier, ["system_fingerprint"] = "fp_mock",
                ["choices"] = delta is null ? new JsonArray() : new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["logprobs"] = null, ["finish_reason"] = finish }),
            };
            await StreamAsync(n,
                head: [Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "", ["refusal"] = null }, null)],
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
            await StreamAsync(n, head: [], delta: i => Chunk((i == 0 ? "" : " ") + "w" + i, null),
                last: [Chunk("", "stop"), .. includeUsage ? new[] { WithUsage(Chunk(null, null), ChatUsage(n)) } : []],
                done: true);
        }

        /// <summary>The tool calls of a Responses output, before the message: web searches, then file searches.</summary>
        private List<JsonObject> ToolCalls(string status)
        {
            var calls = new List<JsonObject>();
            for (var i = 0; i < u.WebSearchCalls; i++)
                calls.Add(new JsonObject
                {
                    ["type"] = "web_search_call", ["id"] = "ws_" + i, ["status"] = status,
                    ["action"] = new JsonObject { ["type"] = "search", ["query"] = "mock" },
                });
            for (var i = 0; i < u.FileSearchCalls; i++)
                calls.Add(new JsonObject
                {
                    ["type"] = "file_search_call", ["id"] = "fs_" + i, ["status"] = status,
                    ["queries"] = new JsonArray("mock"), ["results"] = null,
                });
            return calls;
        }

        public async Task ResponsesAsync()
        {
            var n = OutputTokens("max_output_tokens");
            var messageIndex = u.WebSearchCalls + u.FileSearchCalls;
            JsonObject Response(string status, JsonObject? usage) => new()
            {
                ["id"] = "resp_" + _id, ["object"] = "response", ["created_at"] = 1700000000, ["status"] = status, ["model"] = _model,
                ["output"] = status == "completed"
                    ? new JsonArray([.. ToolCalls("completed"), new JsonObject
                    {
                        ["type"] = "message", ["id"] = "msg_" + _id, ["status"] = "completed", ["role"] = "assistant",
                        ["content"] = new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = Words(n), ["annotations"] = new JsonArray() }),
                    }])
                    : new JsonArray(),
                ["service_tier"] = ServiceTier,
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
            // NOTE: as OpenAI streams a hosted tool: each call's item is added, then done, before the message's text.
            var head = new List<JsonObject> { Event("response.created", new JsonObject { ["response"] = Response("in_progress", null) }) };
            var (added, done) = (ToolCalls("in_progress"), ToolCalls("completed"));
            for (var i = 0; i < added.Count; i++)
            {
                head.Add(Event("response.output_item.added", new JsonObject { ["output_index"] = i, ["item"] = added[i] }));
                head.Add(Event("response.output_item.done", new JsonObject { ["output_index"] = i, ["item"] = done[i] }));
            }
            await StreamAsync(n,
                head: [.. head],
                delta: i => Event("response.output_text.delta", new JsonObject { ["item_id"] = "msg_" + _id, ["output_index"] = messageIndex, ["content_index"] = 0, ["delta"] = (i == 0 ? "" : " ") + "w" + i }),
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
            if (o.GzipAlways || (o.GzipWhenAccepted && context.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase)))
            {
                context.Response.Headers.ContentEncoding = "gzip";
                await using var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true);
                await gzip.WriteAsync(bytes, context.RequestAborted);
                return;
            }
            context.Response.ContentLength = bytes.Length;
            await output.WriteAsync(bytes, context.RequestAborted);
        }

        private async Task StreamAsync(int deltas, JsonObject[] head, Func<int, JsonObject> delta, JsonObject[] last, bool done, Func<JsonObject, string>? eventName = null)
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
            foreach (var node in head)
            {
                await SendAsync(node);
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
                if (pace > TimeSpan.Zero) await Task.Delay(pace, ct);
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
