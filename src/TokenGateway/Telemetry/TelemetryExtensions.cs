using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace TokenGateway.Telemetry;

/// <summary>Wiring of metrics, traces and <c>/metrics</c>.</summary>
internal static class TelemetryExtensions
{
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>Probes and scrapes: no span for them.</summary>
    private static readonly PathString[] Probes = ["/metrics", "/readyz", "/healthz"];

    /// <summary>
    /// The gateway's meter and ASP.NET Core's (<c>http.server.*</c>), on <c>/metrics</c> and, when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set in any configuration source, exported over OTLP with the spans:
    /// the gateway's, ASP.NET Core's server span (the instrumentation package names it after the route and adds
    /// the semantic-convention tags .NET leaves out of it) and HttpClient's (which .NET tags itself).
    /// The OTLP exporter reads the standard OTEL_EXPORTER_OTLP_* settings (endpoint, protocol, headers) from the
    /// host's configuration, so a command-line or appsettings value works like the environment variable.
    /// </summary>
    public static IServiceCollection AddTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section)
            .Validate(o => o.BalanceRefreshSeconds is > 0 and <= 3600, $"{TelemetryOptions.Section}:BalanceRefreshSeconds must be between 0 and 3600 seconds.")
            .ValidateOnStart();
        services.AddSingleton<AccountBalances>();
        services.AddSingleton<GatewayMetrics>();
        services.AddHostedService<BalanceRefresher>();

        var otlp = !string.IsNullOrWhiteSpace(configuration[OtlpEndpointVariable]);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : "tokengateway"))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(GatewayMetrics.MeterName, "Microsoft.AspNetCore.Hosting");
                ((IDeferredMeterProviderBuilder)metrics).Configure((sp, builder) =>
                {
                    var own = sp.GetRequiredService<IMeterFactory>();
                    builder.AddView(instrument => ThisHostOnly(instrument, own));
                });
                metrics.AddPrometheusExporter(o =>
                {
                    // NOTE: every scrape collects afresh (the default caches 300 ms), and the series carry only
                    // their own labels, as the dashboard's queries expect (no otel_scope_* labels, no target_info).
                    o.ScrapeResponseCacheDurationMilliseconds = 0;
                    o.ScopeInfoEnabled = false;
                    o.TargetInfoEnabled = false;
                });
                if (otlp) metrics.AddOtlpExporter();
            });
        // NOTE: without an exporter no tracer provider is built, so no listener makes ActivitySource create spans.
        if (otlp)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(GatewayTracing.SourceName, "System.Net.Http")
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !Probes.Contains(context.Request.Path))
                .AddOtlpExporter());
        }
        return services;
    }

    /// <summary>
    /// <c>AddMeter</c> selects meters by name, and every host of a process (the tests run several) has its own
    /// <c>TokenGateway</c> and ASP.NET Core meters, created by its own <see cref="IMeterFactory"/>: keep only the
    /// instruments of this host's factory. The gateway's per-account instruments get room for more series than
    /// the SDK's default of 2,000 per instrument (account × model × outcome); past the limit, new series are
    /// summed into one labelled <c>otel_metric_overflow="true"</c>.
    /// </summary>
    private static MetricStreamConfiguration? ThisHostOnly(Instrument instrument, IMeterFactory own) =>
        !ReferenceEquals(instrument.Meter.Scope, own) ? MetricStreamConfiguration.Drop
        : GatewayMetrics.IsPerAccount(instrument) ? PerAccountSeries
        : null;

    // NOTE: the SDK allocates an instrument's points up front: measured, 10,000 take about 0.9 MB per instrument.
    private static readonly MetricStreamConfiguration PerAccountSeries = new() { CardinalityLimit = 10_000 };

    /// <summary><c>/metrics</c> (Prometheus text format, unauthenticated like any scrape endpoint).</summary>
    public static WebApplication MapTelemetry(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: branch => branch.Use((context, next) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            // NOTE: always the text format 0.0.4, as before the exporter: OpenMetrics (which Prometheus asks for
            // first) would add a _created series per counter and histogram.
            context.Request.Headers.Accept = "text/plain; version=0.0.4";
            return next(context);
        }), optionsName: null).DisableHttpMetrics();
        return app;
    }
}
