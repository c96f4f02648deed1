using System.Net;
using System.Text.RegularExpressions;
using Marquee.Tests.Support;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Platform;

/// <summary>
/// Walks every endpoint of the running app (from its endpoint data source, not a hand-kept list): each must declare
/// who may call it, and every operator endpoint must refuse a caller who is not an operator.
/// </summary>
public sealed partial class EndpointAuthorizationTests
{
    /// <summary>
    /// Framework plumbing: the interactive components hub (authorizes per component), the framework's own script,
    /// and MapStaticAssets' file fallback (serves public static files only).
    /// </summary>
    private static bool IsFrameworkInfrastructure(RouteEndpoint e) =>
        (e.RoutePattern.RawText == "{**path:file}" && e.Metadata.Any(m => m.GetType().Name == "FallbackMetadata"))
        || e.RoutePattern.RawText is { } raw && (raw.StartsWith("/_blazor", StringComparison.Ordinal) || raw.StartsWith("_blazor", StringComparison.Ordinal)
                                              || raw.StartsWith("/_framework", StringComparison.Ordinal) || raw.StartsWith("_framework", StringComparison.Ordinal));

    private static IReadOnlyList<RouteEndpoint> Endpoints(MarqueeApp app) =>
        [.. app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()];

    private static bool IsOperatorOnly(Endpoint e) =>
        e.Metadata.GetMetadata<IAllowAnonymous>() is null
        && e.Metadata.GetOrderedMetadata<IAuthorizeData>().Any();

    [Fact]
    public async Task Endpoints_WhenEnumerated_EachDeclaresAnAuthorizationRule()
    {
        await using var app = await MarqueeApp.StartAsync();

        var endpoints = Endpoints(app);
        var undeclared = endpoints
            .Where(e => !IsFrameworkInfrastructure(e))
            .Where(e => e.Metadata.GetMetadata<IAllowAnonymous>() is null && !e.Metadata.GetOrderedMetadata<IAuthorizeData>().Any())
            .Select(e => $"{string.Join(",", e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"])} {e.RoutePattern.RawText} ({e.DisplayName}) [{string.Join(";", e.Metadata.Select(m => m.GetType().Name))}]")
            .ToList();

        Assert.True(endpoints.Count > 10, $"only {endpoints.Count} endpoints found");
        Assert.True(undeclared.Count == 0, "Endpoints without an authorization rule: " + string.Join(" | ", undeclared));
    }

    [Fact]
    public async Task OperatorEndpoints_WhenCalledByRemoteVisitor_AreRefused()
    {
        // The test client is on loopback; a trusted proxy on loopback relays a visitor from elsewhere.
        await using var app = await MarqueeApp.StartAsync(configure: s => s["Marquee:Web:KnownProxies:0"] = "127.0.0.1");
        using var handler = new HttpClientHandler { AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = app.BaseAddress };

        var operatorEndpoints = Endpoints(app).Where(e => !IsFrameworkInfrastructure(e) && IsOperatorOnly(e)).ToList();
        Assert.Contains(operatorEndpoints, e => e.RoutePattern.RawText == "/api/catalog/titles");
        Assert.Contains(operatorEndpoints, e => e.RoutePattern.RawText == "/metrics");

        var checkedCount = 0;
        foreach (var endpoint in operatorEndpoints)
        {
            var path = Concrete(endpoint.RoutePattern.RawText!);
            foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path);
                request.Headers.Add("X-Forwarded-For", "203.0.113.9");
                if (method is "POST" or "PUT" or "PATCH")
                {
                    request.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
                }

                var response = await client.SendAsync(request);
                var refused = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
                              || (response.StatusCode == HttpStatusCode.Redirect && response.Headers.Location?.ToString().Contains("/signin", StringComparison.Ordinal) == true);
                Assert.True(refused, $"{method} {path} answered {(int)response.StatusCode} to a remote visitor");
                checkedCount++;
            }
        }

        Assert.True(checkedCount >= 3);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("203.0.113.9")]
    public async Task ForwardedFor_WhenNoProxyIsTrusted_IsNotBelievedAndTheCallerIsNoOperator(string claimed)
    {
        // No proxy configured: the header is not believed (ASP.NET Core's middleware would believe anyone when no
        // proxy is named, so it is not used at all), and a loopback peer relaying for someone else, such as an
        // unconfigured nginx on the same machine, does not make its clients operators.
        await using var app = await MarqueeApp.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/compliance/audit");
        request.Headers.Add("X-Forwarded-For", claimed);

        var relayed = await app.Client.SendAsync(request);
        var direct = await app.Client.GetAsync("/api/compliance/audit");

        Assert.Equal(HttpStatusCode.Unauthorized, relayed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
    }

    [Fact]
    public async Task ForwardedFor_WhenSentByTheTrustedProxy_GivesTheClientsAddress()
    {
        await using var app = await MarqueeApp.StartAsync(configure: s => s["Marquee:Web:KnownProxies:0"] = "127.0.0.1");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/compliance/audit");
        request.Headers.Add("X-Forwarded-For", "127.0.0.1");

        // The trusted proxy relays a client on the proxy's own machine: that client is local.
        var response = await app.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static string Concrete(string pattern) => RouteParameter().Replace(pattern, m =>
        m.Value.Contains(":guid", StringComparison.Ordinal) ? Guid.NewGuid().ToString()
        : m.Value.Contains(":int", StringComparison.Ordinal) || m.Value.Contains(":long", StringComparison.Ordinal) ? "1"
        : "x").Replace("//", "/", StringComparison.Ordinal) is var p && p.StartsWith('/') ? p : "/" + p;

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();
}
