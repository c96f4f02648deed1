using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Marquee.Identity;
using Marquee.Platform.Web;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Identity;

/// <summary>The OpenID Connect provider's browser side: sign-in on the way to an app, and the TV code on /device.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed partial class OidcPagesTests(BrowserFixture browser)
{
    private const string Callback = "http://127.0.0.1:7/callback";

    private async Task<string> RegisterAsync()
    {
        var id = $"tv-{Guid.NewGuid():N}"[..16];
        var response = await browser.App.Client.PostAsJsonAsync("/api/identity/apps", new
        {
            clientId = id, type = "public", redirectUris = new[] { Callback },
            grantTypes = new[] { "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code" },
        });
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        return id;
    }

    [Fact]
    public async Task Authorize_WhenNotSignedIn_SignsInThenReturnsToTheAppWithACode()
    {
        var clientId = await RegisterAsync();
        var email = $"viewer-{Guid.NewGuid():N}@example.com";
        var password = Accounts.RandomPassword();
        await browser.App.CreateAccountAsync(email, password, [Roles.Viewer]);
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Anonymous);
        var page = session.Page;
        await page.Context.RouteAsync("http://127.0.0.1:7/**", route => route.FulfillAsync(new() { Status = 200, ContentType = "text/plain", Body = "the app" }));

        await session.GoAsync($"/connect/authorize?client_id={clientId}&response_type=code&scope=openid&redirect_uri={Uri.EscapeDataString(Callback)}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=abc");
        await Expect(page).ToHaveURLAsync(new Regex("/signin\\?"));
        await page.GetByLabel("E-mail", new() { Exact = true }).FillAsync(email);
        await page.GetByLabel("Password", new() { Exact = true }).FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();

        // Through /signin/continue (a new navigation: the sign-in form's CSP form-action 'self' would stop a form
        // post's redirects from ending at the app's origin), back to the authorize endpoint, then to the app.
        await Expect(page).ToHaveURLAsync(new Regex("^http://127\\.0\\.0\\.1:7/callback\\?code=.+&state=abc"), new() { Timeout = 20_000 });
        session.AssertNoErrors();
    }

    [Fact]
    public async Task DevicePage_WhenViewerTypesTheCode_TheTvGetsTokens()
    {
        var clientId = await RegisterAsync();
        // The TV and the phone reach the same host name (tokens carry the issuer, which is the host the request used).
        using var tv = new HttpClient { BaseAddress = new UriBuilder(browser.App.BaseAddress) { Host = "localhost" }.Uri };
        var started = await (await tv.PostAsync("/connect/device", new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = clientId, ["scope"] = "openid offline_access" })))
            .Content.ReadFromJsonAsync<JsonElement>();
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Viewer);
        var page = session.Page;

        await session.GoAsync("/device");
        await page.GetByLabel("Code").FillAsync(started.GetProperty("user_code").GetString()!);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in the device" }).ClickAsync();
        await Expect(page.Locator("[data-device=approved]")).ToBeVisibleAsync();

        using var token = await tv.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "urn:ietf:params:oauth:grant-type:device_code", ["device_code"] = started.GetProperty("device_code").GetString()!, ["client_id"] = clientId,
        }));
        var tokens = await token.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(tokens.TryGetProperty("access_token", out _), tokens.ToString());
        Assert.True(tokens.TryGetProperty("refresh_token", out _), tokens.ToString());
        session.AssertNoErrors();
    }
}
