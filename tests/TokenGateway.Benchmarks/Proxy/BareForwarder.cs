using System.Diagnostics;
using System.Net.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using TokenGateway.Configuration;
using TokenGateway.Metering;
using TokenGateway.Redis;
using Yarp.ReverseProxy.Forwarder;

namespace TokenGateway.Benchmarks.Proxy;

/// <summary>
/// The baseline: YARP's <see cref="IHttpForwarder"/> forwarding <c>/v1/*</c> to the mock with nothing else —
/// no key lookup, no body read, no Redis. Same Kestrel and forwarder as the gateway, so the difference
/// between the two is the metering.
/// </summary>
/// <remarks>
/// With <c>--redis</c> it is the <b>floor</b> of the gateway's design (issue 14): the same forwarding plus the two Redis
/// round trips the gateway makes per request, each doing almost nothing — one EVALSHA of a one-line script (or a PING)
/// awaited before forwarding, as the reserve is, and one started after the forwarder returns and not awaited, as the
/// gateway's settle is (<c>HeldRequest.SettleAfterResponse</c>), so the answer's end does not wait for it.
/// </remarks>
internal sealed class BareForwarder : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpMessageInvoker _client;
    private readonly UpstreamCertificateTrust? _trust;
    private readonly IConnectionMultiplexer? _redis;

    private BareForwarder(WebApplication app, HttpMessageInvoker client, UpstreamCertificateTrust? trust, IConnectionMultiplexer? redis)
    {
        _app = app;
        _client = client;
        _trust = trust;
        _redis = redis;
    }

    public string BaseUrl { get; private set; } = "";

    /// <summary>The floor's script: one HINCRBY, so that a call is a round trip and Lua's dispatch, no work to speak of.</summary>
    public const string FloorScript = "return redis.call('HINCRBY', KEYS[1], 'n', 1)";

    /// <summary>The Redis client's commands sent so far (its round trips); 0 without <c>--redis</c>.</summary>
    public long RedisOperations => _redis?.OperationCount ?? 0;

    /// <param name="caFile">A PEM certificate to trust for an HTTPS upstream (the mock's self-signed one), checked as the gateway checks it.</param>
    /// <param name="redis">HOST:PORT: make the floor's two Redis round trips per request; null: none.</param>
    /// <param name="ping">PING instead of the script: the round trip without Lua.</param>
    public static async Task<BareForwarder> StartAsync(string upstream, string? caFile, string? redis = null, bool ping = false)
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
        // NOTE: the client the gateway configures (RedisConnector.Configure: RESP2, its timeouts, no abort on connect fail).
        var multiplexer = redis is null ? null : await ConnectionMultiplexer.ConnectAsync(RedisConnector.Configure(new RedisOptions { Configuration = redis }));
        Func<Task>? roundTrip = null;
        if (multiplexer is not null)
        {
            var db = multiplexer.GetDatabase();
            var sha = await multiplexer.GetServer(multiplexer.GetEndPoints()[0]).ScriptLoadAsync(FloorScript);
            RedisKey[] keys = ["{floor}:a"];
            roundTrip = ping ? () => db.PingAsync() : () => db.ScriptEvaluateAsync(sha, keys);
        }
        app.Map("/v1/{**path}", async context =>
        {
            if (roundTrip is not null) await roundTrip();
            await forwarder.SendAsync(context, upstream, client, config, HttpTransformer.Default);
            // NOTE: as the gateway's settle: started once the forwarder has returned, not awaited (a failure shows in the
            // awaited round trip of the next request).
            if (roundTrip is not null) _ = roundTrip().ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
        });
        var host = new BareForwarder(app, client, trust, multiplexer);
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
        if (_redis is not null) await _redis.DisposeAsync();
    }
}
