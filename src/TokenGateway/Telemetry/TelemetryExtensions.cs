using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace TokenGateway.Telemetry;

/// <summary>Wiring of metrics, traces and <c>/metrics</c>.</summary>
internal static class TelemetryExtensions
{
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static IServiceCollection AddTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section);
        services.AddSingleton<AccountBalances>();
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<MetricsCollector>();
        services.AddHostedService<BalanceRefresher>();
        if (!string.IsNullOrWhiteSpace(configuration[OtlpEndpointVariable])) services.AddOtlpExport(configuration);
        return services;
    }

    /// <summary>
    /// OTLP export of the gateway's metrics and spans plus those ASP.NET Core and HttpClient publish on their
    /// own. The exporter reads the standard OTEL_EXPORTER_OTLP_* variables (endpoint, protocol, headers).
    /// </summary>
    private static void AddOtlpExport(this IServiceCollection services, IConfiguration configuration)
    {
        var resource = ResourceBuilder.CreateDefault().AddService(Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME") ?? "tokengateway");
        // NOTE: OpenTelemetry.Extensions.Hosting is not available here: the providers are plain singletons,
        // created at start-up by OtlpProviders and disposed (flushed) with the container on shutdown.
        services.AddSingleton(_ => Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(GatewayMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "System.Net.Http")
            .AddOtlpExporter(o => FromConfiguration(o, configuration, "/v1/metrics"))
            .Build());
        services.AddSingleton(_ => Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource(GatewayTracing.SourceName, "Microsoft.AspNetCore", "System.Net.Http")
            .AddOtlpExporter(o => FromConfiguration(o, configuration, "/v1/traces"))
            .Build());
        services.AddHostedService<OtlpProviders>();
    }

    /// <summary>
    /// The exporter reads OTEL_EXPORTER_OTLP_* from the environment itself. An endpoint given through another
    /// configuration source (command line, appsettings) is applied here, with the per-signal path that
    /// OTLP/HTTP needs when an endpoint is set in code.
    /// </summary>
    private static void FromConfiguration(OtlpExporterOptions options, IConfiguration configuration, string signalPath)
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(OtlpEndpointVariable))) return;
        if (configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf") options.Protocol = OtlpExportProtocol.HttpProtobuf;
        var endpoint = configuration[OtlpEndpointVariable]!.TrimEnd('/');
        options.Endpoint = new Uri(options.Protocol == OtlpExportProtocol.HttpProtobuf ? endpoint + signalPath : endpoint);
    }

    /// <summary><c>/metrics</c> (Prometheus text format, unauthenticated like any scrape endpoint).</summary>
    public static WebApplication MapTelemetry(this WebApplication app)
    {
        // NOTE: resolved now so the listener sees every measurement from the first request on.
        var collector = app.Services.GetRequiredService<MetricsCollector>();
        app.MapGet("/metrics", (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            return Results.Text(collector.Scrape(), PrometheusTextWriter.ContentType);
        });
        return app;
    }

    /// <summary>Creates the OTLP providers when the host starts, so they listen before the first request.</summary>
    private sealed class OtlpProviders(MeterProvider meters, TracerProvider tracer) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken)
        {
            // NOTE: the container disposes both after this; flushing here sends what the last requests recorded.
            meters.ForceFlush(5000);
            tracer.ForceFlush(5000);
            return Task.CompletedTask;
        }
    }
}
