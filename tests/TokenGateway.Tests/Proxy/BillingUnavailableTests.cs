using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Proxy;

public sealed class BillingUnavailableTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task RedisDown_Gets503BillingUnavailable_AndNothingIsForwarded()
    {
        var nowhere = new RedisServer();  // never started: its port has no listener
        await using var gw = await GatewayHost.StartAsync(nowhere);

        var r = await gw.PostAsync("tg-some-key", "/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[]}""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
        var error = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.Equal("billing_unavailable", error.GetProperty("code").GetString());
        Assert.Empty(gw.Upstream.Requests);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await gw.Http.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gw.Http.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task RedisStalled_Gets503BillingUnavailable_WithinTheDeadline()
    {
        await using var gw = await GatewayHost.StartAsync(redis);
        var key = await gw.FundedKeyAsync("stalled-" + Guid.NewGuid().ToString("N")[..6]);
        using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        // Redis stops answering every client (a stalled server) for longer than the gateway's 1 s deadline.
        await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", 4000, "ALL");
        var elapsed = Stopwatch.StartNew();

        var r = await gw.PostAsync(key, "/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[]}""");

        // The deadline is 1 s, checked on the client's 1 s heartbeat: 1–2 s (measured 1.2–1.5 s). Not waiting for the
        // pause to end: the reserve would then have succeeded (200).
        Assert.InRange(elapsed.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(4));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
        Assert.Equal("billing_unavailable", (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        Assert.Empty(gw.Upstream.Requests);
    }
}
