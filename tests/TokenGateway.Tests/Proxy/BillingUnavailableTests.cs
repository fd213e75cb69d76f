using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TokenGateway.Tests.Infrastructure;

namespace TokenGateway.Tests.Proxy;

public sealed class BillingUnavailableTests
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
}
