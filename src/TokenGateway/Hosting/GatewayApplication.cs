using Microsoft.Extensions.Options;
using TokenGateway.Admin;
using TokenGateway.Billing;
using TokenGateway.Configuration;
using TokenGateway.BillingConsole;
using TokenGateway.Events;
using TokenGateway.Keys;
using TokenGateway.Metering;
using TokenGateway.Pricing;
using TokenGateway.Projects;
using TokenGateway.RateLimits;
using TokenGateway.Redis;
using TokenGateway.Telemetry;

namespace TokenGateway.Hosting;

/// <summary>Wiring of the gateway, shared by Program.cs and the functional tests.</summary>
public static class GatewayApplication
{
    /// <param name="configure">Lets a test replace services (e.g. the <see cref="TimeProvider"/>) before the build.</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddTokenGateway();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapTokenGateway();
        return app;
    }

    /// <summary>The settings a start-up failure names (validation of the options, the pricing file); empty for any other failure.</summary>
    public static IReadOnlyList<string> ConfigurationErrors(Exception e) => e switch
    {
        OptionsValidationException v => [.. v.Failures],
        AggregateException a => [.. a.InnerExceptions.SelectMany(ConfigurationErrors)],
        _ when e.InnerException is { } inner => ConfigurationErrors(inner),
        _ => [],
    };

    public static WebApplicationBuilder AddTokenGateway(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        // NOTE: the one multiplexer of the process; its connect starts with the host and never holds it up (see RedisConnector).
        services.AddSingleton<RedisConnector>();
        services.AddHostedService(sp => sp.GetRequiredService<RedisConnector>());
        services.AddHealthChecks().AddCheck<ReadinessCheck>("redis");
        services.AddSingleton<PricingCatalog>();
        services.AddSingleton<KeyStore>();
        services.AddSingleton<ProjectStore>();
        services.AddSingleton<AdminKeyStore>();
        services.AddSingleton<AdminPrincipals>();
        services.AddSingleton<CreditRequests>();
        services.AddSingleton<RateLimitStore>();
        services.AddSingleton<BillingStore>();
        services.AddSingleton<EventQueue>();
        services.AddSingleton<EventOutbox>();
        services.AddHostedService<WebhookDelivery>();
        services.AddHttpClient(WebhookDelivery.HttpClientName, (sp, client) =>
            client.Timeout = TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Billing.Webhooks.TimeoutSeconds));
        services.AddHostedService<BillingSweep>();
        services.AddSingleton<SettleJournal>();
        services.AddHostedService<SettleReplay>();
        services.AddSingleton<HoldHeartbeat>();
        services.AddHostedService(sp => sp.GetRequiredService<HoldHeartbeat>());
        services.AddSingleton<PendingSettles>();
        services.AddSingleton<HoldServices>();
        services.AddSingleton<UsageReport>();
        services.AddSingleton<UpstreamForwarder>();
        services.AddSingleton<MeteredProxy>();
        services.AddHttpForwarder();
        services.AddTelemetry(builder.Configuration);
        builder.AddConsole();
        return builder;
    }

    public static WebApplication MapTokenGateway(this WebApplication app)
    {
        // NOTE: resolve at start-up so that a bad pricing file stops the gateway with a clear message.
        _ = app.Services.GetRequiredService<PricingCatalog>();
        var proxy = app.Services.GetRequiredService<MeteredProxy>();
        app.UseReadYourWrites();
        // NOTE: once every request has ended (Kestrel drained them), before the Redis client is disposed: the settles
        // that run after their answers finish, or go to the settle journal, before the process exits.
        var pending = app.Services.GetRequiredService<PendingSettles>();
        app.Lifetime.ApplicationStopped.Register(() => pending.WhenSettledAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult());
        app.MapGet("/v1/dashboard/billing/credit_grants", CreditGrantsEndpoint.HandleAsync);
        app.Map("/v1/{**path}", proxy.HandleAsync);
        app.MapAdminApi();
        app.MapConsole();
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapHealthChecks(ReadinessCheck.Path, ReadinessCheck.Options);
        app.MapTelemetry();
        return app;
    }
}
