using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.Identity;
using Marquee.Platform.Web;
using Marquee.Tests.Support;

namespace Marquee.Tests.Identity;

/// <summary>
/// External sign-in (SSO) with Marquee itself as the upstream OpenID Connect provider: one Marquee (the provider)
/// and another (the relying party, configured with Marquee:Identity:External:Upstream) on loopback.
/// </summary>
/// <remarks>
/// This class once hung on PostgreSQL only (the account page after the sign-in never finished): the page rendered while
/// its OnInitializedAsync still awaited the database, met a form without its model, and the failed render left its
/// queries running on the request's DbContext beside the error page; SQLite completes those awaits at once, so it never
/// showed there. The page now renders nothing until it is loaded. Keep this class in the PostgreSQL pass.
/// </remarks>
public sealed partial class ExternalSignInTests
{
    [Fact]
    public async Task ExternalSignIn_LinksAVerifiedEmailToItsAccount_OrCreatesAViewer()
    {
        await using var upstream = await MarqueeApp.StartAsync(s => s["Marquee:Identity:Oidc:AllowHttp"] = "true");
        await using var site = await MarqueeApp.StartAsync(s =>
        {
            s["Marquee:Identity:External:Upstream:Authority"] = upstream.BaseAddress.ToString();
            s["Marquee:Identity:External:Upstream:ClientId"] = "marquee-site";
            s["Marquee:Identity:External:Upstream:DisplayName"] = "Upstream Co";
            s["Marquee:Identity:External:Upstream:AllowHttp"] = "true";
            // The upstream is on loopback: named explicitly for the SSRF guard (Marquee:Outbound), which refuses loopback otherwise.
            s["Marquee:Outbound:AllowedHosts:0"] = $"127.0.0.1:{upstream.BaseAddress.Port}";
        });
        var registered = await upstream.Client.PostAsJsonAsync("/api/identity/apps", new
        {
            clientId = "marquee-site", type = "public", grantTypes = new[] { "authorization_code" },
            redirectUris = new[] { new Uri(site.BaseAddress, "/signin-oidc-upstream").ToString() },
        });
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);

        // Someone with accounts on both sites: linked by the verified e-mail.
        var both = $"both-{Guid.NewGuid():N}@example.com";
        var password = Accounts.RandomPassword();
        await upstream.CreateAccountAsync(both, password, [Roles.Viewer]);
        var existing = await site.CreateAccountAsync(both, Accounts.RandomPassword(), [Roles.Viewer]);
        var linked = await SignInThroughUpstreamAsync(site, await upstream.SignInAsync(both, password));
        Assert.Equal(existing, linked.GetProperty("id").GetGuid());

        // Someone known upstream only: a new viewer account on the site.
        var only = $"only-{Guid.NewGuid():N}@example.com";
        await upstream.CreateAccountAsync(only, password, [Roles.Viewer]);
        var created = await SignInThroughUpstreamAsync(site, await upstream.SignInAsync(only, password));
        Assert.Equal(only, created.GetProperty("email").GetString());
        Assert.Equal([Roles.Viewer], created.GetProperty("roles").EnumerateArray().Select(r => r.GetString()!).ToArray());

        // The second time the link itself is used (same account, no new one).
        var again = await SignInThroughUpstreamAsync(site, await upstream.SignInAsync(only, password));
        Assert.Equal(created.GetProperty("id").GetGuid(), again.GetProperty("id").GetGuid());
    }

    /// <summary>A browser that signs in on <paramref name="site"/> with the upstream button; the site's /api/identity/me afterwards.</summary>
    private static async Task<JsonElement> SignInThroughUpstreamAsync(MarqueeApp site, string upstreamCookie)
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(30) };
        var jar = new Dictionary<string, string>(StringComparer.Ordinal);
        async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
        {
            var isSite = request.RequestUri!.Port == site.BaseAddress.Port;
            var cookie = isSite ? string.Join("; ", jar.Select(kv => $"{kv.Key}={kv.Value}")) : upstreamCookie;
            if (cookie.Length > 0)
            {
                request.Headers.Add("Cookie", cookie);
            }

            var response = await http.SendAsync(request);
            if (isSite && response.Headers.TryGetValues("Set-Cookie", out var set))
            {
                foreach (var pair in set.Select(c => c.Split(';')[0]))
                {
                    var eq = pair.IndexOf('=', StringComparison.Ordinal);
                    jar[pair[..eq]] = pair[(eq + 1)..];
                }
            }

            return response;
        }

        var page = await SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(site.BaseAddress, "/signin")));
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("Sign in with Upstream Co", html, StringComparison.Ordinal);
        var token = AntiforgeryField().Match(html).Groups[1].Value;
        var response = await SendAsync(new HttpRequestMessage(HttpMethod.Post, new Uri(site.BaseAddress, "/signin/external/Upstream"))
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["returnUrl"] = "/account", ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token) }),
        });
        var hops = new List<string>();
        while (response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found && hops.Count < 8)
        {
            var next = new Uri(response.RequestMessage!.RequestUri!, response.Headers.Location!);
            hops.Add(next.GetLeftPart(UriPartial.Path));
            try
            {
                response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, next));
            }
            catch (TaskCanceledException e)
            {
                throw new TimeoutException($"no answer from {next} (hops: {string.Join(" -> ", hops)})", e);
            }
        }

        Assert.True(hops.Count >= 3 && hops[^1].EndsWith("/account", StringComparison.Ordinal), $"hops: {string.Join(" -> ", hops)}; last {(int)response.StatusCode}");
        var me = await SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(site.BaseAddress, "/api/identity/me")));
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        return await me.Content.ReadFromJsonAsync<JsonElement>();
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
