using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.BrowserTests.Support;
using Microsoft.Playwright;

namespace Marquee.BrowserTests.Site;

/// <summary>
/// R17: an attacker's page on another origin (http://127.0.0.2, served by the browser's request interception) with a
/// signed-in operator in the same browser. It auto-submits a form (urlencoded, and text/plain shaped as JSON) to the
/// title-creation API, posts the sign-out form, fires credentialed fetches (no-cors and CORS) and GETs through an image:
/// no title is created, the victim is still signed in (the image GET of /signout too), and every state-changing request the server saw was refused.
/// The control: the same fetch from the app's own origin does create a title, so the probe sees a change when there is one.
/// </summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class CsrfBrowserTests(BrowserFixture browser)
{
    private const string Attacker = "http://127.0.0.2:8081";

    [Fact]
    public async Task AttackerPageOnAnotherOrigin_WithTheVictimSignedIn_ChangesNothing()
    {
        var (victim, cookie) = await browser.App.AccountWithRolesAsync(Marquee.Platform.Web.Roles.Admin);
        await using var session = await SignedInAsync(cookie);
        var app = new Uri(browser.BaseAddress.GetLeftPart(UriPartial.Authority));
        var marker = $"CSRF {Guid.NewGuid():N}";
        var refused = new List<string>();
        session.Page.Response += (_, r) =>
        {
            if (r.Url.StartsWith(app.ToString(), StringComparison.Ordinal) && r.Request.Method == "POST")
            {
                lock (refused)
                {
                    refused.Add($"{r.Request.Method} {new Uri(r.Url).AbsolutePath} {r.Status}");
                }
            }
        };
        await session.Page.Context.RouteAsync($"{Attacker}/**", route => route.FulfillAsync(new RouteFulfillOptions
        {
            ContentType = "text/html",
            Body = AttackerPage(app, marker, route.Request.Url),
        }));

        foreach (var attack in new[] { "form", "json-form", "signout" })
        {
            // The attacker's page submits its form on load; the browser lands on the app's answer.
            var request = await session.Page.RunAndWaitForRequestAsync(
                () => session.Page.GotoAsync($"{Attacker}/{attack}"),
                r => r.Url.StartsWith(app.ToString(), StringComparison.Ordinal) && r.Method == "POST", new() { Timeout = 20_000 });
            try
            {
                await request.ResponseAsync(); // the answer, or null when the browser itself cancelled the request
            }
            catch (PlaywrightException)
            {
                // the request failed in the browser: it changed nothing either
            }
        }

        await session.Page.GotoAsync($"{Attacker}/fetch");
        await session.Page.WaitForFunctionAsync("() => document.title === 'done'", null, new() { Timeout = 20_000 });

        // Nothing changed: no title with the marker, the victim is still signed in.
        var titles = await browser.App.Client.GetFromJsonAsync<JsonElement[]>("/api/catalog/titles?take=200");
        Assert.DoesNotContain(titles!, t => t.GetProperty("name").GetString()!.StartsWith(marker, StringComparison.Ordinal));
        using var me = await browser.App.ClientWith(cookie).GetAsync("/api/identity/me");
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(victim, (await me.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());

        // Every cross-site POST that reached the app was refused (4xx) or answered by a redirect that changed nothing;
        // the sign-out form's post among them, refused with 400 (it once answered 500).
        lock (refused)
        {
            Assert.Contains(refused, r => r.StartsWith("POST /signout 400", StringComparison.Ordinal));
            Assert.All(refused, r => Assert.True(int.Parse(r.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture) is >= 300 and < 500, r));
        }
    }

    [Fact]
    public async Task Control_TheSameFetchFromTheAppsOwnOrigin_CreatesTheTitle()
    {
        var (_, cookie) = await browser.App.AccountWithRolesAsync(Marquee.Platform.Web.Roles.Admin);
        await using var session = await SignedInAsync(cookie);
        var marker = $"CSRF control {Guid.NewGuid():N}";
        await session.GoAsync("/");

        var status = await session.Page.EvaluateAsync<int>(
            "async name => (await fetch('/api/catalog/titles', { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, kind: 'Film' }) })).status",
            marker);

        Assert.Equal(201, status);
        var titles = await browser.App.Client.GetFromJsonAsync<JsonElement[]>("/api/catalog/titles?take=200");
        Assert.Contains(titles!, t => t.GetProperty("name").GetString() == marker);
    }

    private async Task<BrowserSession> SignedInAsync(string cookie)
    {
        var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Anonymous);
        await session.Page.Context.AddCookiesAsync(cookie.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(pair => new Microsoft.Playwright.Cookie
        {
            Name = pair[..pair.IndexOf('=', StringComparison.Ordinal)],
            Value = pair[(pair.IndexOf('=', StringComparison.Ordinal) + 1)..],
            Domain = browser.BaseAddress.Host,
            Path = "/",
            Secure = true,
            HttpOnly = true,
            SameSite = SameSiteAttribute.Lax,
        }));
        return session;
    }

    private static string AttackerPage(Uri app, string marker, string url)
    {
        var titles = new Uri(app, "/api/catalog/titles");
        var signout = new Uri(app, "/signout");
        var body = new Uri(url).AbsolutePath switch
        {
            "/form" => $"""<form method="post" action="{titles}"><input name="name" value="{marker} form"><input name="kind" value="Film"></form>""",
            "/json-form" => $$"""<form method="post" enctype="text/plain" action="{{titles}}"><input name='{"name":"{{marker}} json","kind":"Film","x":"' value='"}'></form>""",
            "/signout" => $"""<form method="post" action="{signout}"><input name="returnUrl" value="/"></form>""",
            _ => "",
        };
        var script = body.Length > 0
            ? "document.forms[0].submit();"
            : $$"""
               (async () => {
                 const json = JSON.stringify({ name: '{{marker}} fetch', kind: 'Film' });
                 try { await fetch('{{titles}}', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'Content-Type': 'text/plain' }, body: json }); } catch (e) {}
                 try { await fetch('{{titles}}', { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: json }); } catch (e) {}
                 await new Promise(r => { const i = new Image(); i.onload = i.onerror = r; i.src = '{{signout}}'; });
                 document.title = 'done';
               })();
               """;
        return $"<!doctype html><html><head><title>attacker</title></head><body>{body}<script>{script}</script></body></html>";
    }
}
