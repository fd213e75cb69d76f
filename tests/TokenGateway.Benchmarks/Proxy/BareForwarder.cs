using System.Diagnostics;
using System.Net.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TokenGateway.Metering;
using Yarp.ReverseProxy.Forwarder;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// The baseline: YARP's <see cref="IHttpForwarder"/> forwarding <c>/v1/*</c> to the mock with nothing else —
/// no key lookup, no body read, no Redis. Same Kestrel and forwarder as the gateway, so the difference
/// between the two is the metering.
/// </summary>
internal sealed class BareForwarder : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpMessageInvoker _client;
    private readonly UpstreamCertificateTrust? _trust;

    private BareForwarder(WebApplication app, HttpMessageInvoker client, UpstreamCertificateTrust? trust)
    {
        _app = app;
        _client = client;
        _trust = trust;
    }

    public string BaseUrl { get; private set; } = "";

    /// <param name="caFile">A PEM certificate to trust for an HTTPS upstream (the mock's self-signed one), checked as the gateway checks it.</param>
    public static async Task<BareForwarder> StartAsync(string upstream, string? caFile)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddHttpForwarder();
        var app = builder.Build();
        // NOTE: the client YARP's direct-forwarding sample uses. Unlike the gateway's, it does not ask the
        // upstream for compressed bodies (the gateway does, to read usage from whatever the upstream sends).
        var trust = caFile is null ? null : new UpstreamCertificateTrust(UpstreamCertificateTrust.Load(caFile));
        var client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = trust is null ? null : trust.Validate },
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(15),
            ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
        });
        var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
        var config = ForwarderRequestConfig.Empty;
        app.Map("/v1/{**path}", async context =>
        {
            await forwarder.SendAsync(context, upstream, client, config, HttpTransformer.Default);
        });
        var host = new BareForwarder(app, client, trust);
        await app.StartAsync();
        host.BaseUrl = app.Urls.First().TrimEnd('/');
        return host;
    }

    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _client.Dispose();
        _trust?.Dispose();
    }
}
