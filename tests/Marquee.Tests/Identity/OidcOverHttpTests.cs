using System.Net;
using System.Text.Json;
using Marquee.Cli;
using Marquee.Tests.Support;

namespace Marquee.Tests.Identity;

/// <summary>The OpenID Connect endpoints over plain HTTP: refused by default, answered when allowed (as <c>marquee demo</c> does on loopback).</summary>
public sealed class OidcOverHttpTests
{
    [Theory]
    [InlineData(null, true)] // the demo's default, http://localhost:5080
    [InlineData("http://localhost:5080", true)]
    [InlineData("http://127.0.0.1:5081;http://[::1]:5081", true)]
    [InlineData("http://0.0.0.0:5080", false)]
    [InlineData("http://*:5080", false)]
    [InlineData("http://localhost:5080;http://192.168.1.2:5080", false)]
    public void Demo_AllowsHttpForOidc_OnlyWhenListeningOnLoopbackOnly(string? urls, bool expected) =>
        Assert.Equal(expected, MarqueeCommandLine.DemoListensOnLoopbackOnly(urls));

    [Fact]
    public async Task Discovery_OverPlainHttp_AnswersOnlyWhenAllowed()
    {
        await using var allowed = await MarqueeApp.StartAsync(s => s["Marquee:Identity:Oidc:AllowHttp"] = "true");
        await using var refused = await MarqueeApp.StartAsync();

        var ok = await allowed.AnonymousClient.GetAsync("/.well-known/openid-configuration");
        var no = await refused.AnonymousClient.GetAsync("/.well-known/openid-configuration");

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var document = JsonDocument.Parse(await ok.Content.ReadAsStringAsync()).RootElement;
        Assert.StartsWith("http://127.0.0.1:", document.GetProperty("device_authorization_endpoint").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, no.StatusCode); // negative control: HTTPS required by default
    }
}
