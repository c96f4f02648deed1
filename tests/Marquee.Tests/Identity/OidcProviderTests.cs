using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Marquee.Tests.Support;

namespace Marquee.Tests.Identity;

/// <summary>
/// Marquee as an OpenID Connect provider: an independent relying party (openid-client, run by Node from
/// tests/oidc-client) completes the code + PKCE and device flows; raw HTTP checks the misuse cases (SCENARIOS R22).
/// </summary>
public sealed class OidcProviderTests
{
    private const string Redirect = "http://127.0.0.1:7/callback";
    private const string DeviceGrant = "urn:ietf:params:oauth:grant-type:device_code";

    private static Task<MarqueeApp> StartAsync() => MarqueeApp.StartAsync(s =>
    {
        s["Marquee:Identity:Oidc:AllowHttp"] = "true";
        s["Marquee:Identity:Oidc:DevicePollInterval"] = "00:00:01";
    });

    private static async Task<string> RegisterAsync(MarqueeApp app, string type = "public", params string[] grants)
    {
        var id = $"app-{Guid.NewGuid():N}"[..20];
        var response = await app.Client.PostAsJsonAsync("/api/identity/apps", new
        {
            clientId = id, displayName = "Test TV", type, redirectUris = new[] { Redirect },
            grantTypes = grants.Length > 0 ? grants : ["authorization_code", "refresh_token", DeviceGrant],
        });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return id;
    }

    [Fact]
    public async Task OpenIdClient_CodeWithPkce_SignsInReadsUserInfoAndRotatesRefreshToken()
    {
        await using var app = await StartAsync();
        var clientId = await RegisterAsync(app);
        var node = await OidcClient.EnsureInstalledAsync();

        var result = await node.RunAsync("code", app, clientId);

        Assert.Equal(app.BaseAddress.ToString(), result.GetProperty("issuer").GetString());
        Assert.Equal(app.AdminId.ToString(), result.GetProperty("sub").GetString());
        Assert.Equal("admin@marquee.test", result.GetProperty("email").GetString());
        Assert.Equal("RS256", result.GetProperty("idTokenAlg").GetString());
        Assert.Equal(app.AdminId.ToString(), result.GetProperty("userinfo").GetProperty("sub").GetString());
        Assert.True(result.GetProperty("refreshRotated").GetBoolean());
    }

    [Fact]
    public async Task OpenIdClient_DeviceFlow_ApprovedOnDevicePage_GetsTokens()
    {
        await using var app = await StartAsync();
        var clientId = await RegisterAsync(app);
        var node = await OidcClient.EnsureInstalledAsync();

        var result = await node.RunAsync("device", app, clientId);

        Assert.Equal("/device?approved=1", result.GetProperty("approvedAt").GetString());
        Assert.Equal(1, result.GetProperty("interval").GetInt32());
        Assert.Equal(app.AdminId.ToString(), result.GetProperty("sub").GetString());
        Assert.True(result.GetProperty("hasRefreshToken").GetBoolean());
    }

    [Fact]
    public async Task Discovery_ListsEndpointsS256AndSignedIdTokens()
    {
        await using var app = await StartAsync();

        var doc = await app.AnonymousClient.GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration");

        Assert.Equal(app.BaseAddress.ToString(), doc.GetProperty("issuer").GetString());
        foreach (var (field, path) in new[] { ("authorization_endpoint", "connect/authorize"), ("token_endpoint", "connect/token"), ("device_authorization_endpoint", "connect/device"), ("userinfo_endpoint", "connect/userinfo"), ("end_session_endpoint", "connect/logout") })
        {
            Assert.Equal(new Uri(app.BaseAddress, path).ToString(), doc.GetProperty(field).GetString());
        }

        Assert.Equal(["S256"], Strings(doc, "code_challenge_methods_supported"));
        Assert.Contains("authorization_code", Strings(doc, "grant_types_supported"));
        Assert.Contains("refresh_token", Strings(doc, "grant_types_supported"));
        Assert.Contains(DeviceGrant, Strings(doc, "grant_types_supported"));
        Assert.Equal(["code"], Strings(doc, "response_types_supported"));
        Assert.Contains("RS256", Strings(doc, "id_token_signing_alg_values_supported"));
        Assert.DoesNotContain("none", Strings(doc, "id_token_signing_alg_values_supported"));
        var keys = await app.AnonymousClient.GetFromJsonAsync<JsonElement>(doc.GetProperty("jwks_uri").GetString());
        Assert.True(keys.GetProperty("keys").GetArrayLength() >= 1);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData(null)]
    public async Task Authorize_WithoutS256Pkce_IsRefusedWithInvalidRequest(string? method)
    {
        await using var app = await StartAsync();
        var clientId = await RegisterAsync(app);
        var (verifier, challenge) = Pkce();
        var query = $"client_id={clientId}&response_type=code&scope=openid&redirect_uri={Uri.EscapeDataString(Redirect)}&state=s1"
                    + (method is null ? "" : $"&code_challenge={(method == "plain" ? verifier : challenge)}&code_challenge_method={method}");

        using var browser = Browser(app);
        var response = await browser.GetAsync("/connect/authorize?" + query);

        // OpenIddict checks PKCE before it has looked the redirect URI up, so it answers here rather than redirect.
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("invalid_request", body, StringComparison.Ordinal);
        Assert.Contains("code_challenge", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:7/callback/../evil")]
    [InlineData("http://127.0.0.1:7/callbackx")]
    [InlineData("http://127.0.0.1:7/callback?x=1")]
    [InlineData("http://127.0.0.1:8/callback")]
    [InlineData("https://evil.example/callback")]
    public async Task Authorize_WithUnregisteredRedirectUri_AnswersErrorWithoutRedirect(string redirect)
    {
        await using var app = await StartAsync();
        var clientId = await RegisterAsync(app);
        var (_, challenge) = Pkce();

        using var browser = Browser(app);
        var response = await browser.GetAsync($"/connect/authorize?client_id={clientId}&response_type=code&scope=openid&redirect_uri={Uri.EscapeDataString(redirect)}&code_challenge={challenge}&code_challenge_method=S256");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Contains("invalid_request", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_WhenCodeReused_IsRefusedAndTheFirstTokensAreRevoked()
    {
        await using var app = await StartAsync();
        var clientId = await RegisterAsync(app);
        using var browser = Browser(app);
        var (code, verifier) = await CodeAsync(browser, clientId);

        var first = await TokenAsync(app, new() { ["grant_type"] = "authorization_code", ["code"] = code, ["code_verifier"] = verifier, ["redirect_uri"] = Redirect, ["client_id"] = clientId });
        Assert.Equal(HttpStatusCode.OK, first.Status);
        var second = await TokenAsync(app, new() { ["grant_type"] = "authorization_code", ["code"] = code, ["code_verifier"] = verifier, ["redirect_uri"] = Redirect, ["client_id"] = clientId });

        Assert.Equal(HttpStatusCode.BadRequest, second.Status);
        Assert.Equal("invalid_grant", second.Body.GetProperty("error").GetString());
        var refresh = await TokenAsync(app, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = first.Body.GetProperty("refresh_token").GetString()!, ["client_id"] = clientId });
        Assert.Equal("invalid_grant", refresh.Body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Token_WithWrongVerifier_IsRefused()
    {
        await using var app = await StartAsync();
        var clientId = await RegisterAsync(app);
        using var browser = Browser(app);
        var (code, _) = await CodeAsync(browser, clientId);

        var answer = await TokenAsync(app, new() { ["grant_type"] = "authorization_code", ["code"] = code, ["code_verifier"] = Pkce().Verifier, ["redirect_uri"] = Redirect, ["client_id"] = clientId });

        Assert.Equal("invalid_grant", answer.Body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Refresh_RotatesAndAReusedTokenRevokesTheFamily()
    {
        await using var app = await StartAsync();
        var clientId = await RegisterAsync(app);
        using var browser = Browser(app);
        var (code, verifier) = await CodeAsync(browser, clientId);
        var first = await TokenAsync(app, new() { ["grant_type"] = "authorization_code", ["code"] = code, ["code_verifier"] = verifier, ["redirect_uri"] = Redirect, ["client_id"] = clientId });
        var original = first.Body.GetProperty("refresh_token").GetString()!;

        var rotated = await TokenAsync(app, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = original, ["client_id"] = clientId });
        Assert.Equal(HttpStatusCode.OK, rotated.Status);
        var next = rotated.Body.GetProperty("refresh_token").GetString()!;
        Assert.NotEqual(original, next);

        var reused = await TokenAsync(app, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = original, ["client_id"] = clientId });
        Assert.Equal("invalid_grant", reused.Body.GetProperty("error").GetString());
        var family = await TokenAsync(app, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = next, ["client_id"] = clientId });
        Assert.Equal("invalid_grant", family.Body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task DeviceToken_PolledFasterThanTheInterval_AnswersSlowDown()
    {
        await using var app = await MarqueeApp.StartAsync(s =>
        {
            s["Marquee:Identity:Oidc:AllowHttp"] = "true";
            s["Marquee:Identity:Oidc:DevicePollInterval"] = "00:00:30";
        });
        var clientId = await RegisterAsync(app);
        using var started = await app.AnonymousClient.PostAsync("/connect/device", new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = clientId, ["scope"] = "openid" }));
        var device = await started.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(30, device.GetProperty("interval").GetInt32());
        var poll = new Dictionary<string, string> { ["grant_type"] = DeviceGrant, ["device_code"] = device.GetProperty("device_code").GetString()!, ["client_id"] = clientId };

        var first = await TokenAsync(app, poll);
        var second = await TokenAsync(app, poll);

        Assert.Equal("authorization_pending", first.Body.GetProperty("error").GetString());
        Assert.Equal("slow_down", second.Body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task DevicePage_WithWrongCode_SaysSoAndSignsNothingIn()
    {
        await using var app = await StartAsync();
        // A browser with every cookie: the form's antiforgery cookie is Secure, which CookieContainer keeps from plain-HTTP
        // loopback, and the verify endpoint refuses a post without it (400, R17).
        using var browser = new HttpClient(new AccountSecurityTests.CookieJar { InnerHandler = new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false } }
            .With(app.AuthCookieHeader)) { BaseAddress = app.BaseAddress };
        var page = await browser.GetStringAsync("/device");
        var token = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;

        using var post = new HttpRequestMessage(HttpMethod.Post, "/connect/verify")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["user_code"] = "123456789", ["approve"] = "1", ["__RequestVerificationToken"] = token }),
        };
        var answer = await browser.SendAsync(post);

        Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
        Assert.Equal("/device?invalid=1", answer.Headers.Location!.ToString());
    }

    [Fact]
    public async Task ClientApps_InvalidInputRefused_CreationAudited_SecretShownOnce()
    {
        await using var app = await StartAsync();

        var bad = await app.Client.PostAsJsonAsync("/api/identity/apps", new { clientId = "A!", type = "other", redirectUris = new[] { "http://evil.example/cb" }, grantTypes = new[] { "password" } });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = await bad.Content.ReadFromJsonAsync<JsonElement>();
        foreach (var field in new[] { "clientId", "type", "grantTypes", "redirectUris" })
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), field);
        }

        var created = await app.Client.PostAsJsonAsync("/api/identity/apps", new { clientId = "web-server", type = "confidential", redirectUris = new[] { "https://app.example/cb" }, grantTypes = new[] { "authorization_code" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var secret = body.GetProperty("clientSecret").GetString()!;
        Assert.True(secret.Length >= 40);
        var again = await app.Client.PostAsJsonAsync("/api/identity/apps", new { clientId = "web-server", type = "public", redirectUris = new[] { "https://app.example/cb" }, grantTypes = new[] { "authorization_code" } });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        var list = await app.Client.GetStringAsync("/api/identity/apps");
        Assert.Contains("web-server", list, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, list, StringComparison.Ordinal);

        await Poll.UntilAsync(() => app.Client.GetStringAsync("/api/compliance/audit"), a => a.Contains("identity.client-app-created", StringComparison.Ordinal), what: "the audit line");
        var viewer = await app.ClientWithRolesAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync("/api/identity/apps")).StatusCode);
    }

    [Fact]
    public async Task Consent_ForAThirdPartyApp_AllowIsRememberedAndDenyAnswersAccessDenied()
    {
        await using var app = await StartAsync();
        var allowed = await RegisterExplicitAsync(app, "Partner Quiz");
        var denied = await RegisterExplicitAsync(app, "Other Partner");
        // A browser with every cookie (the antiforgery cookie is Secure, which CookieContainer keeps from plain-HTTP loopback).
        using var browser = new HttpClient(new AccountSecurityTests.CookieJar { InnerHandler = new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false } }
            .With(app.AuthCookieHeader)) { BaseAddress = app.BaseAddress };

        // First time: the consent screen names the app and the scopes; "Allow" goes back to the authorize endpoint.
        var (verifier, challenge) = Pkce();
        var first = await browser.GetAsync(AuthorizeUrl(allowed, challenge));
        Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);
        Assert.StartsWith("/consent?", first.Headers.Location!.OriginalString, StringComparison.Ordinal);
        var consent = await ConsentAsync(browser, first.Headers.Location!.OriginalString, "allow");
        Assert.Contains("Partner Quiz", consent.Page, StringComparison.Ordinal);
        Assert.Contains("data-scope=\"offline_access\"", consent.Page, StringComparison.Ordinal);
        var code = await browser.GetAsync(consent.Back);
        Assert.Equal(HttpStatusCode.Redirect, code.StatusCode);
        var granted = System.Web.HttpUtility.ParseQueryString(code.Headers.Location!.Query)["code"];
        Assert.NotNull(granted);
        var tokens = await TokenAsync(app, new() { ["grant_type"] = "authorization_code", ["code"] = granted, ["code_verifier"] = verifier, ["redirect_uri"] = Redirect, ["client_id"] = allowed });
        Assert.Equal(HttpStatusCode.OK, tokens.Status);

        // Remembered: the next request goes straight back to the app with a code.
        var again = await browser.GetAsync(AuthorizeUrl(allowed, Pkce().Challenge));
        Assert.StartsWith(Redirect, again.Headers.Location!.ToString(), StringComparison.Ordinal);
        Assert.NotNull(System.Web.HttpUtility.ParseQueryString(again.Headers.Location!.Query)["code"]);

        // "Deny": access_denied at the app's redirect URI, and the next request asks again.
        var other = await browser.GetAsync(AuthorizeUrl(denied, Pkce().Challenge));
        var refusal = await browser.GetAsync((await ConsentAsync(browser, other.Headers.Location!.OriginalString, "deny")).Back);
        Assert.StartsWith(Redirect, refusal.Headers.Location!.ToString(), StringComparison.Ordinal);
        Assert.Equal("access_denied", System.Web.HttpUtility.ParseQueryString(refusal.Headers.Location!.Query)["error"]);
        Assert.StartsWith("/consent?", (await browser.GetAsync(AuthorizeUrl(denied, Pkce().Challenge))).Headers.Location!.OriginalString, StringComparison.Ordinal);

        // The consent form needs its antiforgery token (a cross-site post cannot allow an app).
        using var forged = await browser.PostAsync("/connect/consent", new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = denied, ["scope"] = "openid", ["allow"] = "1" }));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
    }

    private static async Task<string> RegisterExplicitAsync(MarqueeApp app, string name)
    {
        var id = $"app-{Guid.NewGuid():N}"[..20];
        var response = await app.Client.PostAsJsonAsync("/api/identity/apps", new
        {
            clientId = id, displayName = name, type = "public", consentType = "explicit", redirectUris = new[] { Redirect },
            grantTypes = new[] { "authorization_code", "refresh_token" },
        });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("explicit", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("app").GetProperty("consentType").GetString());
        return id;
    }

    private static string AuthorizeUrl(string clientId, string challenge) =>
        $"/connect/authorize?client_id={clientId}&response_type=code&scope=openid%20offline_access&redirect_uri={Uri.EscapeDataString(Redirect)}&code_challenge={challenge}&code_challenge_method=S256&state=x";

    /// <summary>Opens the consent page and answers it; the page and where the browser is sent back (the authorize request).</summary>
    private static async Task<(string Page, string Back)> ConsentAsync(HttpClient browser, string consentUrl, string answer)
    {
        var page = await browser.GetStringAsync(consentUrl);
        var start = page.IndexOf("action=\"/connect/consent\"", StringComparison.Ordinal);
        Assert.True(start > 0, page);
        var html = page[start..page.IndexOf("</form>", start, StringComparison.Ordinal)];
        var form = System.Text.RegularExpressions.Regex.Matches(html, "<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\"")
            .Select(m => new KeyValuePair<string, string>(m.Groups[1].Value, System.Net.WebUtility.HtmlDecode(m.Groups[2].Value))).ToList();
        form.Add(new(answer, "1"));
        using var posted = await browser.PostAsync("/connect/consent", new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.Redirect, posted.StatusCode);
        var continued = posted.Headers.Location!.OriginalString;
        Assert.StartsWith("/signin/continue?returnUrl=", continued, StringComparison.Ordinal);
        return (page, Uri.UnescapeDataString(continued["/signin/continue?returnUrl=".Length..]));
    }

    private static string[] Strings(JsonElement doc, string field) => [.. doc.GetProperty(field).EnumerateArray().Select(e => e.GetString()!)];

    private static (string Verifier, string Challenge) Pkce()
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        return (verifier, Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>A browser signed in as the admin that does not follow redirects.</summary>
    private static HttpClient Browser(MarqueeApp app)
    {
        var cookies = new CookieContainer();
        foreach (var pair in app.AuthCookieHeader.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            cookies.Add(app.BaseAddress, new Cookie(pair[..eq], pair[(eq + 1)..], "/"));
        }

        return new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = cookies }) { BaseAddress = app.BaseAddress };
    }

    private static async Task<(string Code, string Verifier)> CodeAsync(HttpClient browser, string clientId)
    {
        var (verifier, challenge) = Pkce();
        var response = await browser.GetAsync($"/connect/authorize?client_id={clientId}&response_type=code&scope=openid%20offline_access&redirect_uri={Uri.EscapeDataString(Redirect)}&code_challenge={challenge}&code_challenge_method=S256&state=x");
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var query = System.Web.HttpUtility.ParseQueryString(response.Headers.Location!.Query);
        return (query["code"] ?? throw new InvalidOperationException($"no code in {response.Headers.Location}"), verifier);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> TokenAsync(MarqueeApp app, Dictionary<string, string> form)
    {
        using var response = await app.AnonymousClient.PostAsync("/connect/token", new FormUrlEncodedContent(form));
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }
}

/// <summary>openid-client, run by Node from tests/oidc-client (installed with npm ci on first use).</summary>
public sealed class OidcClient
{
    private static readonly SemaphoreSlim Install = new(1, 1);

    private OidcClient(string folder) => Folder = folder;

    public string Folder { get; }

    public static async Task<OidcClient> EnsureInstalledAsync()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "tests", "oidc-client")))
        {
            dir = dir.Parent;
        }

        var folder = Path.Combine(dir?.FullName ?? throw new InvalidOperationException("tests/oidc-client not found above the test folder"), "tests", "oidc-client");
        await Install.WaitAsync();
        try
        {
            if (!Directory.Exists(Path.Combine(folder, "node_modules", "openid-client")))
            {
                var (code, output, error) = await Tools.RunAsync("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], folder);
                Assert.True(code == 0, $"npm ci in tests/oidc-client failed: {output}{error}");
            }
        }
        finally
        {
            Install.Release();
        }

        return new OidcClient(folder);
    }

    /// <summary>Runs one flow (<c>code</c> or <c>device</c>) as the admin of <paramref name="app"/>; the client's JSON report.</summary>
    public async Task<JsonElement> RunAsync(string flow, MarqueeApp app, string clientId)
    {
        var (exit, output, error) = await Tools.RunAsync("node", ["flows.mjs", flow], Folder, TimeSpan.FromMinutes(1), new Dictionary<string, string>
        {
            ["OIDC_ISSUER"] = app.BaseAddress.ToString(),
            ["OIDC_CLIENT_ID"] = clientId,
            ["OIDC_REDIRECT_URI"] = "http://127.0.0.1:7/callback",
            ["MARQUEE_COOKIE"] = app.AuthCookieHeader,
        });
        Assert.True(exit == 0, $"openid-client {flow} flow failed ({exit}): {output}{error}");
        return JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;
    }
}
