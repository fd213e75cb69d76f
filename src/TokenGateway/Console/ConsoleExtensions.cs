using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.StackExchangeRedis;
using Microsoft.Extensions.Options;
using TokenGateway.Configuration;
using TokenGateway.Redis;

// NOTE: the folder is Console/ but the namespace is BillingConsole: a namespace TokenGateway.Console would capture
// every `Console.WriteLine` written inside a TokenGateway.* namespace (the benchmarks', a test's) instead of System.Console.
namespace TokenGateway.BillingConsole;

/// <summary>The billing console at <c>/console</c>: Razor Pages rendered by the gateway itself, with its own cookie session.</summary>
internal static class ConsoleExtensions
{
    public static WebApplicationBuilder AddConsole(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddRazorPages(o =>
        {
            o.RootDirectory = "/Console/Pages";
            o.Conventions.AuthorizeFolder("/", ConsoleSession.Policy);
            o.Conventions.AllowAnonymousToPage("/SignIn");
        })
        // NOTE: MVC finds pages in the entry assembly, which is not the gateway's when a test host runs it.
        .AddApplicationPart(typeof(ConsoleExtensions).Assembly);
        // NOTE: as the only scheme, the console's cookie would become the default and be read on every request, proxy
        // calls included; switched off, only the console's pages (whose policy names the scheme) authenticate.
        AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);
        services.AddAuthentication().AddCookie(ConsoleSession.Scheme, ConsoleSession.Configure);
        services.AddAuthorizationBuilder().AddPolicy(ConsoleSession.Policy, p => p.AddAuthenticationSchemes(ConsoleSession.Scheme).RequireAuthenticatedUser());
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "tg_console_csrf";
            o.Cookie.Path = ConsoleUrls.Root;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        // NOTE: the keys that encrypt sessions and antiforgery tokens live in the shared Redis, so every replica reads
        // a session another one issued, and a restart signs nobody out.
        services.AddDataProtection().SetApplicationName("TokenGateway");
        services.AddOptions<KeyManagementOptions>().Configure<RedisConnector>((o, redis) =>
            o.XmlRepository = new RedisXmlRepository(() => redis.Multiplexer.GetAwaiter().GetResult().GetDatabase(), "tg:dataprotection-keys"));
        services.AddSingleton<ConsoleData>();
        return builder;
    }

    public static WebApplication MapConsole(this WebApplication app)
    {
        // Off with the admin API: without an admin token there is nobody to sign in, nor to issue team admin keys.
        if (string.IsNullOrEmpty(app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.Admin.Token)) return app;
        app.MapRazorPages();
        app.MapGet(ConsoleUrls.Root + "/assets/{name}", ConsoleAssets.Serve);
        return app;
    }
}
