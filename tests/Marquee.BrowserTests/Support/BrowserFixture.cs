using Marquee.Platform.Hosting;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Marquee.BrowserTests.Support;

/// <summary>
/// One real Marquee host with the demo catalogue, and one headless Chromium, shared by the browser tests.
/// The host listens on loopback and is browsed as <c>http://localhost:PORT</c>: its cookies are <c>__Host-</c> and
/// Secure, which Chromium accepts over plain HTTP only for localhost.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    /// <summary>Debian's Chromium; Playwright's own browser download is not used. <c>MARQUEE_CHROMIUM</c> overrides it.</summary>
    public static string ChromiumPath => Environment.GetEnvironmentVariable("MARQUEE_CHROMIUM") ?? "/usr/bin/chromium";

    private static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    private IPlaywright? playwright;

    public MarqueeApp App { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The host's address with <c>localhost</c> as the name.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"Chromium was not found at {ChromiumPath}: install it with 'apt-get install -y chromium', or set MARQUEE_CHROMIUM.");
        }

        // The browser is headless Chromium filling forms in milliseconds: exactly what the sign-up risk scorer flags.
        // These tests are about the pages, so the thresholds are raised out of reach (the scorer has its own tests).
        App = await MarqueeApp.StartAsync(s =>
        {
            s["Marquee:Identity:Risk:ChallengeThreshold"] = "900";
            s["Marquee:Identity:Risk:BlockThreshold"] = "1000";
            s["Marquee:Identity:Oidc:AllowHttp"] = "true"; // the OpenID Connect pages over loopback HTTP
            // The classes share viewers, and a page closed by a test may leave its playback session live until its lease
            // lapses: at the default 4 a full run once refused a later test's play. The limit has its own tests.
            s["Marquee:Identity:MaxConcurrentStreams"] = "100";
        });
        BaseAddress = Localhost(App);
        await App.ScopedAsync(async services =>
        {
            // The demo catalogue, without the demo's generated programmes: transcoding six of them would take the
            // machine from the tests. The watch tests ingest one short clip of their own.
            foreach (var content in services.GetServices<IDemoContent>().Where(c => c is not Marquee.Media.MediaDemo))
            {
                await content.SeedAsync(CancellationToken.None);
            }

            return true;
        });

        // Expectations poll until they hold; 5 s (Playwright's default) is too short for a page whose server shares two
        // cores with two other test passes (CI saw a passkey ceremony still running after 5 s). A failure still fails.
        Assertions.SetDefaultExpectTimeout(20_000);
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ChromiumArgs,
        });
    }

    /// <summary>Who a browser session is signed in as.</summary>
    public enum As
    {
        /// <summary>The host's admin (<see cref="MarqueeApp.Client"/>'s account): console pages open.</summary>
        Admin,

        /// <summary>A new account with the viewer role.</summary>
        Viewer,

        /// <summary>Nobody: not signed in.</summary>
        Anonymous,
    }

    /// <summary>
    /// A fresh browser context and page that records every console error, page error and CSP violation;
    /// a desktop window unless <paramref name="phone"/>, then the size of a phone held upright. It browses the
    /// shared host, or <paramref name="app"/>, signed in as <paramref name="signedIn"/> (the admin by default, as the
    /// console tests need; the session cookie is put in the browser, the sign-in page has tests of its own).
    /// </summary>
    public async Task<BrowserSession> OpenAsync(bool phone = false, MarqueeApp? app = null, As signedIn = As.Admin)
    {
        var host = app ?? App;
        var baseUrl = Localhost(host);
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl.ToString(),
            ViewportSize = phone ? new ViewportSize { Width = 390, Height = 844 } : new ViewportSize { Width = 1280, Height = 800 },
            IsMobile = phone,
            HasTouch = phone,
        });
        context.SetDefaultTimeout(15_000);
        var cookie = signedIn switch
        {
            As.Admin => host.AuthCookieHeader,
            As.Viewer => (await host.AccountWithRolesAsync(Marquee.Platform.Web.Roles.Viewer)).CookieHeader,
            _ => null,
        };
        if (cookie is not null)
        {
            await context.AddCookiesAsync(cookie.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(pair => new Cookie
            {
                Name = pair[..pair.IndexOf('=', StringComparison.Ordinal)],
                Value = pair[(pair.IndexOf('=', StringComparison.Ordinal) + 1)..],
                Domain = baseUrl.Host,
                Path = "/",
                Secure = true,
                HttpOnly = true,
                SameSite = SameSiteAttribute.Lax,
            }));
        }

        return await BrowserSession.StartAsync(context);
    }

    private static Uri Localhost(MarqueeApp app) => new UriBuilder(app.BaseAddress) { Host = "localhost" }.Uri;

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        playwright?.Dispose();
        if (App is not null)
        {
            await App.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "Browser";
}
