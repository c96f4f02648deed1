using System.Net;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.DataProtection;
using Marquee.Analytics;
using Marquee.Billing;
using Marquee.Catalog;
using Marquee.Compliance;
using Marquee.Identity;
using Microsoft.AspNetCore.Identity;
using Marquee.Media;
using Marquee.Components;
using Marquee.Delivery;
using Marquee.Rights;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.HttpOverrides;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Scalar.AspNetCore;

namespace Marquee.Platform.Hosting;

/// <summary>Composition of the program: platform services, then every module, then the HTTP pipeline.</summary>
public static class MarqueeHost
{
    /// <summary>The builder with configuration read and checked (throws <see cref="StartupException"/> with every problem).</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static void UseAeadCipherSuites(Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions https)
    {
        var suites = AeadCipherSuites();
        https.OnAuthenticate = (_, tls) => tls.CipherSuitesPolicy = suites;
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static System.Net.Security.CipherSuitesPolicy AeadCipherSuites() => new(
    [
        System.Net.Security.TlsCipherSuite.TLS_AES_128_GCM_SHA256,
        System.Net.Security.TlsCipherSuite.TLS_AES_256_GCM_SHA384,
        System.Net.Security.TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        System.Net.Security.TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        System.Net.Security.TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        System.Net.Security.TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        System.Net.Security.TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        System.Net.Security.TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        System.Net.Security.TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]);

    public static WebApplicationBuilder CreateBuilder(string[] args, IDictionary<string, string?>? overrides = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = typeof(MarqueeHost).Assembly.GetName().Name,
        });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        StartupChecks.Validate(builder.Configuration);
        ConfigureServices(builder.Services, builder.Configuration, builder.Environment);
        // Serve wwwroot from the build output as from a published one (MapStaticAssets needs the runtime manifest
        // to find the files and their content types when the program runs from bin/ rather than a publish folder).
        builder.WebHost.UseStaticWebAssets();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // TLS 1.2 and 1.3 only (R21), whatever the system's OpenSSL would allow; an endpoint's SslProtocols overrides it.
            // On Linux also only AEAD suites with forward secrecy (Mozilla's "intermediate"): no CBC (testssl.sh: LUCKY13).
            k.ConfigureHttpsDefaults(h =>
            {
                h.SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;
                if (OperatingSystem.IsLinux())
                {
                    UseAeadCipherSuites(h);
                }
            });
        });
        return builder;
    }

    public static WebApplication Build(WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var app = builder.Build();
        var keyRing = app.Configuration.GetSection(KeyRingOptions.Section).Get<KeyRingOptions>() ?? new KeyRingOptions();
        if (app.Environment.IsProduction() && !keyRing.Encrypted)
        {
            KeyRingLog.Unencrypted(app.Logger, KeyRingOptions.Section);
        }

        ConfigurePipeline(app);
        return app;
    }

    private static void ConfigureServices(IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        services.AddSingleton(TimeProvider.System);
        // First of the hosted services: a host that runs holds the data folder (shared), so 'marquee backup' can tell.
        services.AddSingleton<DataFolderLock>();
        services.AddHostedService(sp => sp.GetRequiredService<DataFolderLock>());
        services.AddSingleton<Marquee.Platform.Privacy.ErasureRegister>();
        services.AddOptions<MarqueeOptions>().Bind(configuration.GetSection(MarqueeOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<WebOptions>().Bind(configuration.GetSection(WebOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOutboundHttp(configuration);
        services.AddOptions<EventsOptions>().Bind(configuration.GetSection(EventsOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(DatabaseSettings.From(configuration));
        services.AddSingleton<DatabaseMigrator>();
        services.AddSingleton<OutboxSignal>();
        services.AddSingleton<OutboxSignalInterceptor>();
        services.AddSingleton<Outboxes>();
        services.AddHttpContextAccessor();
        services.AddClientCountry(configuration);

        var roles = configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions();
        if (roles.HasRole("worker"))
        {
            services.AddSingleton<OutboxDispatcher>();
            services.AddHostedService(sp => sp.GetRequiredService<OutboxDispatcher>());
        }

        // Web platform
        var web = configuration.GetSection(WebOptions.Section).Get<WebOptions>() ?? new WebOptions();
        services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            // Forwarded headers are believed only from the proxies the operator named; by default from nobody.
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var p in web.KnownProxies)
            {
                o.KnownProxies.Add(IPAddress.Parse(p));
            }

            foreach (var n in web.KnownNetworks)
            {
                o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(n));
            }
        });
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            ctx.ProblemDetails.Extensions["traceId"] = ctx.HttpContext.TraceIdentifier;
        });
        services.AddExceptionHandler<StorageFaultExceptionHandler>(); // full disk, database down: 503 + Retry-After (R4, R5)
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        services.Configure<CookiePolicyOptions>(o =>
        {
            // Every cookie is Secure (the __Host- prefix demands it): serve over HTTPS, or on localhost for development.
            o.Secure = CookieSecurePolicy.Always;
            o.MinimumSameSitePolicy = SameSiteMode.Lax;
            o.HttpOnly = Microsoft.AspNetCore.CookiePolicy.HttpOnlyPolicy.Always;
        });
        var dataDir = (configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions()).FullDataDir;
        var dataProtection = services.AddDataProtection()
            .SetApplicationName("marquee")
            .PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(dataDir, "keys")));
        var keyRing = configuration.GetSection(KeyRingOptions.Section).Get<KeyRingOptions>() ?? new KeyRingOptions();
        if (keyRing.Encrypted)
        {
            // New keys are encrypted to the current certificate; keys of earlier certificates stay readable.
            var current = keyRing.Load(keyRing.CertificatePath!);
            dataProtection.ProtectKeysWithCertificate(current)
                .UnprotectKeysWithAnyCertificate([current, .. keyRing.PreviousPaths().Select(keyRing.Load)]);
        }
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "__Host-marquee-af";
            // Secure is forced for every cookie by the cookie policy (HTTPS, and http://localhost which browsers trust).
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.SameSite = SameSiteMode.Strict;
        });
        // ASP.NET Core Identity's cookie schemes (the Identity module signs in through them): the session cookie, and the
        // short-lived ones between a password and its second factor. Every one is __Host- prefixed, Secure, HttpOnly.
        services.AddAuthentication(o =>
            {
                o.DefaultScheme = IdentityConstants.ApplicationScheme;
                o.DefaultSignInScheme = IdentityConstants.ExternalScheme;
            })
            .AddIdentityCookies();
        services.ConfigureApplicationCookie(o =>
        {
            o.Cookie.Name = "__Host-marquee";
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.LoginPath = "/signin";
            o.AccessDeniedPath = "/signin";
            o.LogoutPath = "/signout";
            o.Events.OnRedirectToLogin = ctx => ApiAwareRedirect(ctx, StatusCodes.Status401Unauthorized);
            o.Events.OnRedirectToAccessDenied = ctx => ApiAwareRedirect(ctx, StatusCodes.Status403Forbidden);
        });
        foreach (var (scheme, name) in new[]
                 {
                     (IdentityConstants.TwoFactorUserIdScheme, "__Host-marquee-mfa"),
                     (IdentityConstants.TwoFactorRememberMeScheme, "__Host-marquee-mfa-device"),
                     (IdentityConstants.ExternalScheme, "__Host-marquee-external"),
                 })
        {
            services.Configure<CookieAuthenticationOptions>(scheme, o => o.Cookie.Name = name);
        }

        services.PostConfigureAll<CookieAuthenticationOptions>(o =>
        {
            // Secure is forced for every cookie by the cookie policy (HTTPS, and http://localhost which browsers trust).
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.HttpOnly = true;
            o.Cookie.Path = "/";
        });
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (ctx, ct) =>
            {
                var http = ctx.HttpContext;
                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                http.Response.Headers.RetryAfter = "60";
                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails =
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        Title = "Too many requests",
                        Detail = "Too many attempts from your address. Wait a minute, then try again.",
                    },
                });
            };
        });
        var authorization = services.AddAuthorizationBuilder();
        Policies.Add(authorization);
        services.AddSingleton<IAuthorizationHandler, MetricsScrapeHandler>();
        services.AddCascadingAuthenticationState();
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Marquee API";
            doc.Info.Description = "The HTTP API of Marquee, a self-hostable streaming platform. Errors are RFC 9457 problem details.";
            return Task.CompletedTask;
        }));

        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: ["ready"])
            .AddCheck<DataDirHealthCheck>("data-dir", tags: ["ready"]);

        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("marquee", serviceVersion: typeof(MarqueeHost).Assembly.GetName().Version?.ToString()))
            .WithMetrics(m => m
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("Marquee.*")
                .AddPrometheusExporter());

        // Modules, in dependency order. Each owns its data, endpoints and pages.
        services.AddCompliance(configuration);
        services.AddIdentity(configuration);
        services.AddCatalog(configuration);
        services.AddMedia(configuration);
        services.AddDelivery(configuration);
        services.AddRights(configuration);
        services.AddBilling(configuration);
        services.AddAnalytics(configuration);
        _ = environment;
    }

    private static Task ApiAwareRedirect(Microsoft.AspNetCore.Authentication.RedirectContext<CookieAuthenticationOptions> ctx, int status)
    {
        // Programs get the status; a signed-in person without the role gets 403 and the status page that says so;
        // a person not signed in is sent to the sign-in page.
        if (IsMachineFacing(ctx.HttpContext) || status == StatusCodes.Status403Forbidden)
        {
            ctx.Response.StatusCode = status;
            if (!HttpMethods.IsGet(ctx.Request.Method) && !HttpMethods.IsHead(ctx.Request.Method)
                && ctx.HttpContext.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodePagesFeature>() is { } pages)
            {
                pages.Enabled = false; // a refused form post: re-executing the status page as a post would answer 400
            }

            return Task.CompletedTask;
        }

        ctx.Response.Redirect(ctx.RedirectUri);
        return Task.CompletedTask;
    }

    /// <summary>Paths answered to programs (problem details), not to people (error pages).</summary>
    private static bool IsMachineFacing(HttpContext c) =>
        c.Request.Path.StartsWithSegments("/api") || c.Request.Path.StartsWithSegments("/openapi")
        || c.Request.Path.StartsWithSegments("/metrics") || c.Request.Path.StartsWithSegments("/health");

    private static void ConfigurePipeline(WebApplication app)
    {
        var web = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<WebOptions>>().Value;
        if (web.KnownProxies.Count > 0 || web.KnownNetworks.Count > 0)
        {
            // With no proxy named, ASP.NET Core's middleware would believe forwarded headers from anyone: never use it then.
            app.UseForwardedHeaders();
        }

        app.UseSecurityHeaders(web.Hsts);
        app.UseCookiePolicy();
        app.UseWhen(IsMachineFacing, api =>
        {
            api.UseExceptionHandler();
            api.UseStatusCodePages();
        });
        app.UseWhen(c => !IsMachineFacing(c), pages =>
        {
            pages.UseExceptionHandler("/error", createScopeForErrors: true);
            pages.UseStatusCodePagesWithReExecute("/not-found");
        });

        // Routing runs after the error and status-code handlers, so that their re-executed requests (/error, /not-found)
        // are routed to those pages; with the implicit routing at the start of the pipeline they would find no endpoint.
        app.UseRouting();
        app.UseRateLimiter();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.UseAntiforgeryFailures(); // R17: a refused token answers 400 (problem details or a plain page), never 500

        app.MapStaticAssets().AllowAnonymous();

        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains("ready"),
            ResponseWriter = HealthResponse.WriteAsync,
        }).AllowAnonymous();
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthResponse.WriteAsync })
            .AllowAnonymous();

        app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization(Policies.Metrics);

        var roles = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<MarqueeOptions>>().Value;
        if (!roles.HasRole("web"))
        {
            return; // a worker-only process answers health and metrics, nothing else
        }

        // In Production the API's description and its reference page answer admins only (R31): no map of the attack
        // surface for whoever asks. Elsewhere they are open, for developers.
        var openApi = app.MapOpenApi();
        // The API reference is a third-party single-page app. It loads nothing from elsewhere (no CDN fonts, telemetry,
        // AI chat or hosted developer tools), and its one inline script carries a per-request nonce that the
        // Content-Security-Policy names (see SecurityHeaders.ReferencePagePolicy).
        var reference = app.MapScalarApiReference("/api/reference", o => o
            .WithTitle("Marquee API")
            .WithFavicon("/favicon.svg")
            .DisableDefaultFonts()
            .DisableTelemetry()
            .DisableAgent()
            .HideDeveloperTools()
            .WithNonce());
        if (app.Environment.IsProduction())
        {
            openApi.RequireAuthorization(Policies.ConsoleAdmin);
            reference.RequireAuthorization(Policies.ConsoleAdmin);
        }
        else
        {
            openApi.AllowAnonymous();
            reference.AllowAnonymous();
        }

        // The host owns each module's route prefix and the order.
        app.MapGroup("/api/compliance").MapCompliance();
        app.MapGroup("/api/identity").MapIdentity();
        app.MapSignOutForm();
        app.MapIdentityProtocols();
        app.MapGroup("/api/catalog").MapCatalog();
        app.MapCatalogSite(); // /sitemap.xml and /robots.txt
        app.MapGroup("/api/media").MapMedia();
        app.MapGroup("/api/playback").MapDelivery();
        app.MapGroup("/api/rights").MapRights();
        app.MapGroup("/api/billing").MapBilling();
        app.MapGroup("/api/analytics").MapAnalytics();

        app.MapRazorComponents<App>()
            .AddInteractiveServerRenderMode();
    }
}
