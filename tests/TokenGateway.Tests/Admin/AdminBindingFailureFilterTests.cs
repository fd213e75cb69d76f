using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using TokenGateway.Admin;

namespace TokenGateway.Tests.Admin;

/// <summary>
/// The admin handlers bind nothing that can fail, so the net for binding failures is tested on its own, on a route
/// that binds an int, in a real Kestrel host on loopback.
/// </summary>
public sealed class AdminBindingFailureFilterTests : IAsyncLifetime
{
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        var group = _app.MapGroup("/admin").AddEndpointFilter(new AdminBindingFailureFilter());
        group.MapGet("/count", (int n) => Results.Json(new { n }));
        group.MapGet("/refused", () => Results.BadRequest());
        await _app.StartAsync();
        _client = new HttpClient { BaseAddress = new Uri(_app.Urls.First()) };
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    [Theory]
    [InlineData("/admin/count?n=abc")]
    [InlineData("/admin/count?n=99999999999")]
    [InlineData("/admin/count")]
    public async Task BindingFailure_Gets400InOpenAIShape(string url)
    {
        using var r = await _client.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var error = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("invalid_request", error.GetProperty("code").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
    }

    [Fact]
    public async Task BoundRequest_ReachesTheHandler()
    {
        using var r = await _client.GetAsync("/admin/count?n=3");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("""{"n":3}""", await r.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task HandlersOwn400_IsLeftAlone()
    {
        using var r = await _client.GetAsync("/admin/refused");

        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.DoesNotContain("invalid_request", await r.Content.ReadAsStringAsync());
    }
}
