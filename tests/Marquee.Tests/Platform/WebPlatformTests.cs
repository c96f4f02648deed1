using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Support;

namespace Marquee.Tests.Platform;

public sealed class WebPlatformTests(SharedApp shared) : IClassFixture<SharedApp>
{
    [Theory]
    [InlineData("/api/catalog/titles")]
    [InlineData("/health/ready")]
    [InlineData("/no-such-page")]
    [InlineData("/api/catalog/titles/not-a-guid")]
    public async Task Responses_WhenAnyPath_CarrySecurityHeaders(string path)
    {
        var app = shared.App;

        var response = await app.Client.GetAsync(path);

        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("object-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("base-uri 'self'", csp, StringComparison.Ordinal); // Blazor needs <base href="/">; see SecurityHeaders
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.True(response.Headers.Contains("Referrer-Policy"));
        Assert.False(response.Headers.Contains("Server"));
    }

    [Fact]
    public async Task OpenApi_WhenFetched_DescribesTheModulesEndpoints()
    {
        var app = shared.App;

        var doc = JsonDocument.Parse(await app.Client.GetStringAsync("/openapi/v1.json")).RootElement;

        Assert.Equal("Marquee API", doc.GetProperty("info").GetProperty("title").GetString());
        var paths = doc.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/catalog/titles", out var titles));
        Assert.True(titles.TryGetProperty("post", out _));
        Assert.True(paths.TryGetProperty("/api/compliance/audit", out _));
    }

    [Fact]
    public async Task ReferenceAndMetrics_WhenProductionAndRemoteVisitor_AreRefused()
    {
        await using var app = await MarqueeApp.StartAsync(configure: s => s["Marquee:Web:KnownProxies:0"] = "127.0.0.1");
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = app.BaseAddress };

        foreach (var path in new[] { "/api/reference/v1", "/openapi/v1.json", "/metrics" })
        {
            using var remote = new HttpRequestMessage(HttpMethod.Get, path);
            remote.Headers.Add("X-Forwarded-For", "198.51.100.7");
            var refused = await client.SendAsync(remote);
            Assert.True(refused.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.Redirect, $"{path}: {refused.StatusCode}");

            using var byOperator = new HttpRequestMessage(HttpMethod.Get, path);
            byOperator.Headers.Add("X-Forwarded-For", "198.51.100.7");
            Assert.Equal(HttpStatusCode.OK, (await app.Client.SendAsync(byOperator)).StatusCode); // a signed-in admin, from anywhere
        }

        // The metrics scrape also answers this machine (a local Prometheus); the reference does not.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/metrics")).StatusCode);
        Assert.NotEqual(HttpStatusCode.OK, (await client.GetAsync("/api/reference/v1")).StatusCode);

        // The API's description and reference are for admins only: another operator (content) is refused too.
        using var content = await app.ClientWithRolesAsync("content");
        Assert.Equal(HttpStatusCode.Forbidden, (await content.GetAsync("/api/reference/v1")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await content.GetAsync("/openapi/v1.json")).StatusCode);
    }

    [Fact]
    public async Task Metrics_WhenScrapedFromConfiguredAddress_AnswersPrometheusText()
    {
        await using var app = await MarqueeApp.StartAsync(configure: s =>
        {
            s["Marquee:Web:KnownProxies:0"] = "127.0.0.1";
            s["Marquee:Web:ScrapeAddresses:0"] = "192.0.2.50";
        });
        await app.Client.GetAsync("/api/catalog/titles");

        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Add("X-Forwarded-For", "192.0.2.50");
        var response = await app.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("http_server_request_duration_seconds", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cookies_WhenIssued_AreHostPrefixedAndSecure()
    {
        var app = shared.App;

        // The console's forms issue the antiforgery cookie.
        var response = await app.Client.GetAsync("/console/catalog");

        var cookies = response.Headers.TryGetValues("Set-Cookie", out var values) ? values.ToList() : [];
        Assert.NotEmpty(cookies);
        Assert.All(cookies, c =>
        {
            Assert.StartsWith("__Host-", c, StringComparison.Ordinal);
            Assert.Contains("secure", c, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("path=/", c, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("domain=", c, StringComparison.OrdinalIgnoreCase);
        });
    }

    [Fact]
    public async Task FormPost_WithoutAValidAntiforgeryToken_Answers400AndChangesNothing()
    {
        // R17: a cross-site post of the sign-out form (no antiforgery token) once answered 500.
        var app = shared.App;
        var (account, cookie) = await app.AccountWithRolesAsync(Marquee.Platform.Web.Roles.Viewer);
        var client = app.ClientWith(cookie);
        var form = () => new FormUrlEncodedContent(new Dictionary<string, string> { ["returnUrl"] = "/" });

        using var page = await client.PostAsync("/signout", form());
        Assert.Equal(HttpStatusCode.BadRequest, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("could not be sent", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var json = new HttpRequestMessage(HttpMethod.Post, "/signout") { Content = form() };
        json.Headers.Accept.ParseAdd("application/json");
        using var problem = await client.SendAsync(json);
        Assert.Equal(HttpStatusCode.BadRequest, problem.StatusCode);
        Assert.Equal("application/problem+json", problem.Content.Headers.ContentType?.MediaType);
        Assert.Equal(400, (await problem.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());

        // A page's own form (Razor components check the token too) and the external sign-in form.
        using var signIn = await client.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["_handler"] = "signin", ["Input.Email"] = "a@example.com" }));
        Assert.Equal(HttpStatusCode.BadRequest, signIn.StatusCode);
        using var external = await client.PostAsync("/signin/external/none", form());
        Assert.Equal(HttpStatusCode.BadRequest, external.StatusCode);

        // Nothing changed: still signed in as the same account.
        using var me = await client.GetAsync("/api/identity/me");
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(account, (await me.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task UnknownApiRoute_WhenRequested_AnswersProblemDetails()
    {
        await using var app = await MarqueeApp.StartAsync();

        var response = await app.Client.GetAsync("/api/catalog/titles/00000000-0000-0000-0000-000000000001");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task WorkerOnlyProcess_WhenRequested_AnswersHealthButNoPagesOrApi()
    {
        await using var app = await MarqueeApp.StartAsync(configure: s => s["Marquee:Roles"] = "worker");

        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Client.GetAsync("/api/catalog/titles")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Client.GetAsync("/")).StatusCode);
    }

    [Fact]
    public async Task StaticAssets_WhenServedFromTheBuildOutput_CarryTheirContentTypes()
    {
        await using var app = await MarqueeApp.StartAsync();

        var script = await app.Client.GetAsync("/_framework/blazor.web.js");
        var home = await app.Client.GetStringAsync("/");
        var css = System.Text.RegularExpressions.Regex.Match(home, "href=\"(css/site[^\"]*\\.css)\"").Groups[1].Value;
        var style = await app.Client.GetAsync("/" + css);

        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.NotEmpty(css);
        Assert.Equal("text/css", style.Content.Headers.ContentType?.MediaType);
    }
}
