using System.Net;
using System.Text.RegularExpressions;
using Marquee.Platform.Web;
using Marquee.Tests.Support;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Platform;

/// <summary>
/// Walks every endpoint of the running app (from its endpoint data source, not a hand-kept list or the OpenAPI
/// document): each must declare who may call it, every console page must carry an operator policy, and every operator
/// endpoint must refuse a signed-in viewer (403) and an anonymous caller (401, or a redirect to sign-in for pages).
/// </summary>
public sealed partial class EndpointAuthorizationTests(SharedApp shared) : IClassFixture<SharedApp>
{
    /// <summary>
    /// Framework plumbing: the interactive components hub (authorizes per component), the framework's own script,
    /// and MapStaticAssets' file fallback (serves public static files only).
    /// </summary>
    internal static bool IsFrameworkInfrastructure(RouteEndpoint e) =>
        (e.RoutePattern.RawText == "{**path:file}" && e.Metadata.Any(m => m.GetType().Name == "FallbackMetadata"))
        || e.RoutePattern.RawText is { } raw && (raw.StartsWith("/_blazor", StringComparison.Ordinal) || raw.StartsWith("_blazor", StringComparison.Ordinal)
                                              || raw.StartsWith("/_framework", StringComparison.Ordinal) || raw.StartsWith("_framework", StringComparison.Ordinal));

    internal static IReadOnlyList<RouteEndpoint> Endpoints(MarqueeApp app) =>
        [.. app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()];

    /// <summary>The policies that admit operators only (every console policy).</summary>
    private static readonly string[] OperatorPolicies = [Policies.Console, Policies.ConsoleContent, Policies.ConsoleCompliance, Policies.ConsoleFinance, Policies.ConsoleAdmin, Policies.Metrics];

    internal static bool IsOperatorOnly(Endpoint e) =>
        e.Metadata.GetMetadata<IAllowAnonymous>() is null
        && e.Metadata.GetOrderedMetadata<IAuthorizeData>().Any(a => a.Policy is { } p && OperatorPolicies.Contains(p));

    private static bool IsConsolePage(RouteEndpoint e) =>
        e.RoutePattern.RawText is { } raw && (raw.StartsWith("/console", StringComparison.Ordinal) || raw.StartsWith("console", StringComparison.Ordinal));

    /// <summary>Console pages and operator APIs without an operator policy (empty when every one has it).</summary>
    private static List<string> ConsoleEndpointsWithoutPolicy(IEnumerable<RouteEndpoint> endpoints) =>
        [.. endpoints.Where(e => IsConsolePage(e) && !IsOperatorOnly(e)).Select(e => e.RoutePattern.RawText!)];

    [Fact]
    public void Endpoints_WhenEnumerated_EachDeclaresAnAuthorizationRule()
    {
        var app = shared.App;

        var endpoints = Endpoints(app);
        var undeclared = endpoints
            .Where(e => !IsFrameworkInfrastructure(e))
            .Where(e => e.Metadata.GetMetadata<IAllowAnonymous>() is null && !e.Metadata.GetOrderedMetadata<IAuthorizeData>().Any())
            .Select(e => $"{string.Join(",", e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"])} {e.RoutePattern.RawText} ({e.DisplayName}) [{string.Join(";", e.Metadata.Select(m => m.GetType().Name))}]")
            .ToList();

        Assert.True(endpoints.Count > 10, $"only {endpoints.Count} endpoints found");
        Assert.True(undeclared.Count == 0, "Endpoints without an authorization rule: " + string.Join(" | ", undeclared));
        Assert.Empty(ConsoleEndpointsWithoutPolicy(endpoints));
    }

    [Fact]
    public void ConsoleCheck_WhenAConsolePageLacksThePolicy_FindsIt()
    {
        // The negative of the rule above: a console page open to any signed-in account is caught.
        var app = shared.App;
        var open = Endpoints(app).Where(e => !IsFrameworkInfrastructure(e))
            .Append(new RouteEndpoint(_ => Task.CompletedTask, Microsoft.AspNetCore.Routing.Patterns.RoutePatternFactory.Parse("/console/leaky"), 0,
                new EndpointMetadataCollection(new AuthorizeAttribute()), "leaky"));

        Assert.Equal(["/console/leaky"], ConsoleEndpointsWithoutPolicy(open));
    }

    [Fact]
    public async Task OperatorEndpoints_WhenCalledByViewerOrAnonymous_AreRefused()
    {
        await using var app = await MarqueeApp.StartAsync();
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = app.BaseAddress };
        var (_, viewerCookie) = await app.AccountWithRolesAsync(Roles.Viewer);

        var operatorEndpoints = Endpoints(app).Where(e => !IsFrameworkInfrastructure(e) && IsOperatorOnly(e)).ToList();
        Assert.Contains(operatorEndpoints, e => e.RoutePattern.RawText == "/api/catalog/titles");
        Assert.Contains(operatorEndpoints, e => e.RoutePattern.RawText == "/api/compliance/audit");
        Assert.Contains(operatorEndpoints, e => e.RoutePattern.RawText == "/console");

        var checkedCount = 0;
        // /metrics, /api/analytics/kpi (for `marquee kpi`) and /api/analytics/status (for the benchmark) also answer this machine, as a local scraper: see WebPlatformTests
        foreach (var endpoint in operatorEndpoints.Where(e => e.RoutePattern.RawText is not ("/metrics" or "/api/analytics/kpi" or "/api/analytics/status")))
        {
            var path = Concrete(endpoint.RoutePattern.RawText!);
            foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                var asViewer = await SendAsync(anonymous, method, path, viewerCookie);
                Assert.True(asViewer.StatusCode == HttpStatusCode.Forbidden, $"{method} {path} answered {(int)asViewer.StatusCode} to a signed-in viewer");

                var asAnonymous = await SendAsync(anonymous, method, path, cookie: null);
                var refused = asAnonymous.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
                              || (asAnonymous.StatusCode == HttpStatusCode.Redirect && asAnonymous.Headers.Location?.ToString().Contains("/signin", StringComparison.Ordinal) == true && !path.StartsWith("/api", StringComparison.Ordinal));
                Assert.True(refused, $"{method} {path} answered {(int)asAnonymous.StatusCode} to an anonymous caller");
                checkedCount++;
            }
        }

        Assert.True(checkedCount >= 8, $"only {checkedCount} operator routes walked");
    }

    /// <summary>R21: every endpoint the app maps (from its endpoint data source), whatever it answers an anonymous caller, carries the security headers and no server banner.</summary>
    [Fact]
    public async Task EveryEndpoint_WhenCalled_CarriesTheSecurityHeaders()
    {
        await using var app = await MarqueeApp.StartAsync();
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = app.BaseAddress };
        var walked = 0;
        var missing = new List<string>();
        foreach (var endpoint in Endpoints(app).Where(e => !IsFrameworkInfrastructure(e)))
        {
            var path = Concrete(endpoint.RoutePattern.RawText!);
            foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                using var response = await SendAsync(anonymous, method, path, cookie: null);
                walked++;
                var csp = response.Headers.TryGetValues("Content-Security-Policy", out var c) ? string.Join(";", c) : "";
                var problems = new List<string>();
                if (!csp.Contains("object-src 'none'", StringComparison.Ordinal) || !csp.Contains("frame-ancestors 'none'", StringComparison.Ordinal)
                    || !csp.Contains("base-uri", StringComparison.Ordinal))
                {
                    problems.Add("CSP");
                }

                if (!response.Headers.TryGetValues("X-Content-Type-Options", out var n) || !n.Contains("nosniff"))
                {
                    problems.Add("nosniff");
                }

                if (!response.Headers.Contains("Referrer-Policy"))
                {
                    problems.Add("Referrer-Policy");
                }

                if (response.Headers.Contains("Server") || response.Headers.Contains("X-Powered-By"))
                {
                    problems.Add("server banner");
                }

                if (problems.Count > 0)
                {
                    missing.Add($"{method} {path} ({(int)response.StatusCode}): {string.Join(", ", problems)}");
                }
            }
        }

        Assert.True(walked > 20, $"only {walked} endpoints walked");
        Assert.True(missing.Count == 0, string.Join("\n", missing));
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string path, string? cookie)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        if (method is "POST" or "PUT" or "PATCH")
        {
            request.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
        }

        return await client.SendAsync(request);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("203.0.113.9")]
    public async Task ForwardedFor_WhenNoProxyIsTrusted_IsNotBelievedAndTheCallerIsNotLocal(string claimed)
    {
        // No proxy configured: the header is not believed (ASP.NET Core's middleware would believe anyone when no
        // proxy is named, so it is not used at all), and a loopback peer relaying for someone else, such as an
        // unconfigured nginx on the same machine, does not make its clients local (the metrics scrape admits local callers).
        var app = shared.App;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Add("X-Forwarded-For", claimed);

        var relayed = await app.AnonymousClient.SendAsync(request);
        var direct = await app.AnonymousClient.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.Unauthorized, relayed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
    }

    [Fact]
    public async Task ForwardedFor_WhenSentByTheTrustedProxy_GivesTheClientsAddress()
    {
        await using var app = await MarqueeApp.StartAsync(configure: s => s["Marquee:Web:KnownProxies:0"] = "127.0.0.1");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Add("X-Forwarded-For", "127.0.0.1");

        // The trusted proxy relays a client on the proxy's own machine: that client is local.
        var response = await app.AnonymousClient.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static string Concrete(string pattern) => RouteParameter().Replace(pattern, m =>
        m.Value.Contains(":guid", StringComparison.Ordinal) ? Guid.NewGuid().ToString()
        : m.Value.Contains(":int", StringComparison.Ordinal) || m.Value.Contains(":long", StringComparison.Ordinal) ? "1"
        : "x").Replace("//", "/", StringComparison.Ordinal) is var p && p.StartsWith('/') ? p : "/" + p;

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();
}
