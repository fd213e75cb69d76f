using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Telemetry;

/// <summary>
/// With OTEL_EXPORTER_OTLP_ENDPOINT set (here on the command line, not in the environment), metrics and spans
/// reach an OTLP/HTTP receiver (flushed on shutdown).
/// </summary>
public sealed class OtlpExportTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task OtlpEndpointSet_MetricsAndSpansAreExported_WhenTheGatewayStops()
    {
        var received = new ConcurrentQueue<(string Path, byte[] Body)>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var receiver = builder.Build();
        receiver.MapPost("/v1/{signal}", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue((context.Request.Path, body.ToArray()));
            context.Response.ContentType = "application/x-protobuf";
        });
        await receiver.StartAsync();
        var account = "acct-" + Guid.NewGuid().ToString("N")[..8];

        var gw = await GatewayHost.StartAsync(redis, args: ["--OTEL_EXPORTER_OTLP_ENDPOINT=" + receiver.Urls.First(), "--OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"]);
        try
        {
            var key = await gw.FundedKeyAsync(account, 10m);
            var r = await gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        finally
        {
            await gw.DisposeAsync();
        }

        // OTLP protobuf keeps strings as UTF-8 bytes: names and tag values can be found in the payloads.
        var traces = string.Join("\n", received.Where(r => r.Path == "/v1/traces").Select(r => Encoding.UTF8.GetString(r.Body)));
        var metrics = string.Join("\n", received.Where(r => r.Path == "/v1/metrics").Select(r => Encoding.UTF8.GetString(r.Body)));
        foreach (var span in new[] { "proxy", "reserve", "upstream", "settle", account }) Assert.Contains(span, traces);
        // The server span, named after the route and tagged by the ASP.NET Core instrumentation (.NET leaves it bare).
        foreach (var tag in new[] { "POST /v1/{**path}", "http.route", "http.response.status_code", "url.path" }) Assert.Contains(tag, traces);
        foreach (var name in new[] { "tokengateway.tokens", "tokengateway.requests", "gen_ai.client.token.usage", "http.server.request.duration", account })
            Assert.Contains(name, metrics);
    }
}
