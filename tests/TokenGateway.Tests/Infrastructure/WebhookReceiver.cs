using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace TokenGateway.Tests.Infrastructure;

/// <summary>
/// The company's side of the webhooks: a real Kestrel host on loopback that records every delivery
/// and answers with the status <see cref="Respond"/> picks (per path, per delivery).
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    public const string Secret = "whsec-test-0123456789abcdef";

    public sealed record Delivery(string Path, IReadOnlyDictionary<string, string> Headers, string Body, DateTimeOffset ReceivedAt)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement;
        public string Type => Json.GetProperty("type").GetString()!;
        public string Signature => Headers.GetValueOrDefault("TokenGateway-Signature", "");
    }

    private readonly ConcurrentQueue<Delivery> _received = new();
    private WebApplication _app = null!;

    public string BaseUrl { get; private set; } = "";

    /// <summary>(path, number of earlier deliveries to that path) → status code.</summary>
    public Func<string, int, int> Respond { get; set; } = (_, _) => 200;

    public IReadOnlyList<Delivery> Received => [.. _received];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var receiver = new WebhookReceiver();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        receiver._app = builder.Build();
        receiver._app.MapPost("/{**path}", async (HttpContext context) =>
        {
            var body = await new StreamReader(context.Request.Body).ReadToEndAsync();
            var path = context.Request.Path.Value!;
            var earlier = receiver._received.Count(d => d.Path == path);
            receiver._received.Enqueue(new Delivery(path, context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body, DateTimeOffset.UtcNow));
            return Results.StatusCode(receiver.Respond(path, earlier));
        });
        await receiver._app.StartAsync();
        receiver.BaseUrl = receiver._app.Urls.First().TrimEnd('/');
        return receiver;
    }

    /// <summary>Waits until <paramref name="done"/> holds for what was received, then a little longer, so that extra deliveries would show.</summary>
    public async Task<IReadOnlyList<Delivery>> WaitForAsync(Func<IReadOnlyList<Delivery>, bool> done, TimeSpan? settle = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!done(Received))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Webhook deliveries not as expected after 20 s: {string.Join(", ", Received.Select(d => d.Path + " " + d.Type))}");
            await Task.Delay(50);
        }
        await Task.Delay(settle ?? TimeSpan.FromMilliseconds(750));
        return Received;
    }

    /// <summary>Checks the signature the way a receiver would: HMAC-SHA256 over "t.body" with the shared secret.</summary>
    public static bool IsValidlySigned(Delivery d)
    {
        var parts = d.Signature.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes(parts["t"] + "." + d.Body));
        return CryptographicOperations.FixedTimeEquals(Convert.FromHexString(parts["v1"]), mac);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
