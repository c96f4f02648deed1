using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.BrowserTests.Support;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Marquee.BrowserTests.Site;

/// <summary>
/// R16: a corpus of classic XSS payloads, seeded through the API into every text that users and operators control and
/// the pages show (titles' names, synopses, collections, genres, tags, people and characters; account and profile
/// names; plans, coupons, suppliers and their contacts, contracts, licences, client apps, library items and their tags;
/// the audit log's details of all that), and reflected through every query parameter that a page echoes. Every public
/// and console page that shows them is visited in Chromium: no <c>dialog</c> opens, no CSP violation is reported, no
/// payload becomes live markup (an <c>on*</c> attribute, a <c>javascript:</c>/<c>data:</c> URL, a script, an element the
/// corpus brings), and the payloads do appear as text (so the pages did render them).
/// The control proves the probe: the same corpus set by <c>innerHTML</c> on a page without CSP opens dialogs and leaves
/// live markup, and an inline handler under the product's CSP raises a violation.
/// </summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class XssCorpusTests(BrowserFixture browser, ITestOutputHelper output)
{
    /// <summary>Each payload calls <c>alert(N)</c> with its own number, so a dialog names the payload that ran.</summary>
    internal static readonly string[] Corpus =
    [
        "<script>alert(1)</script>",
        "'\"><img src=x onerror=alert(2)>",
        "'><svg onload=alert(3)>",
        "<svg><script>alert(4)</script></svg>",
        "javascript:alert(5)",
        "<a href=\"javascript:alert(6)\">six</a>",
        "\" autofocus onfocus=\"alert(7)\" x=\"",
        "' autofocus onfocus='alert(8)' x='",
        "<iframe src=\"javascript:alert(9)\"></iframe>",
        "</title><body onload=alert(10)>",
        "</script><script>alert(11)</script>",
        "{{constructor.constructor('alert(12)')()}}",
        "${alert(13)}",
        "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(14)>",
        "%3Cscript%3Ealert(15)%3C%2Fscript%3E",
        "\u003cimg src=x onerror=alert(16)\u003e \uFF1Cscript\uFF1Ealert(16)\uFF1C/script\uFF1E",
        "<details open ontoggle=alert(17)>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(18)>",
        "--><script>alert(19)</script><!--",
        "data:text/html,<script>alert(20)</script>",
        "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(21)\">",
        "<input autofocus onfocus=alert(22)>",
    ];

    /// <summary>
    /// Live markup a payload would leave: an event-handler attribute, a script URL, an inline script that is not the
    /// page's JSON-LD (which must parse), or an element the corpus brings and the pages never use.
    /// </summary>
    internal const string LiveMarkupProbe = """
        () => {
          const found = [];
          for (const el of document.querySelectorAll('*')) {
            for (const a of el.attributes) {
              if (/^on/i.test(a.name)) found.push(`${el.tagName} ${a.name}="${a.value}"`);
              const scriptUrl = /^(javascript|data|vbscript):/i;
              const value = a.value.replace(/[\u0000-\u0020]/g, '');
              if (/^(href|src|action|formaction|data|xlink:href|poster|srcdoc)$/i.test(a.name) && scriptUrl.test(value)) found.push(`${el.tagName} ${a.name}="${a.value}"`);
              if (el.tagName === 'META' && a.name === 'content' && /^refresh$/i.test(el.httpEquiv) && /url=(javascript|data|vbscript):/i.test(value)) found.push(`META refresh "${a.value}"`);
            }
          }
          for (const s of document.querySelectorAll('script:not([src])')) {
            if (s.type === 'application/ld+json') { try { JSON.parse(s.textContent); continue; } catch { } }
            found.push(`SCRIPT ${s.textContent.slice(0, 80)}`);
          }
          for (const el of document.querySelectorAll('iframe, object, embed, details:not(:has(> summary)), math, mglyph, img[src="x"], input[autofocus], meta[http-equiv]:not([http-equiv="refresh"])')) {
            found.push(`element ${el.tagName}`);
          }
          return found;
        }
        """;

    [Fact]
    public async Task PayloadCorpus_InEveryUserTextAndReflectedParameter_NeverRunsOrBecomesMarkup()
    {
        var (_, cookie) = await browser.App.AccountWithRolesAsync(Marquee.Platform.Web.Roles.Admin);
        var api = browser.App.ClientWith(cookie);
        var seeded = await SeedAsync(api);

        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Anonymous);
        await SignInAsync(session, cookie);
        var dialogs = new List<string>();
        session.Page.Dialog += async (_, dialog) =>
        {
            lock (dialogs)
            {
                dialogs.Add($"{dialog.Message} on {session.Page.Url}");
            }

            await dialog.DismissAsync();
        };

        var pages = new List<string> { "/", "/browse", "/browse?kind=Track", "/plans", "/account", "/profiles", "/console", "/console/catalog",
            "/console/compliance/audit", "/console/events", "/console/rights", "/console/rights/suppliers", "/console/rights/contracts",
            "/console/billing", "/console/billing/coupons", "/console/identity/apps", "/console/media/library", "/console/catalog/value" };
        pages.AddRange(seeded.Titles.Select(t => $"/title/{t.Slug}"));
        pages.AddRange(seeded.Titles.Take(2).SelectMany(t => new[] { $"/watch/{t.Id}", $"/console/catalog/titles/{t.Id}" }));
        pages.AddRange(seeded.GenreSlugs.Take(2).Select(g => $"/genres/{g}"));

        // Reflected: the search echoes its query (a third of the corpus); every other query parameter a page echoes
        // gets a breakout of either quote with a tag, and the return URLs script URLs and an open redirect.
        pages.AddRange(Corpus.Where((_, i) => i % 3 == 0).Select(p => $"/search?q={Uri.EscapeDataString(p)}"));
        foreach (var q in new[] { Corpus[1] }.Select(Uri.EscapeDataString))
        {
            pages.AddRange([
                $"/browse?kind={q}", $"/title/{seeded.Titles[0].Slug}?lang={q}", $"/console/compliance/audit?action={q}",
                $"/console/identity/risk?outcome={q}", $"/console/billing/revenue?from={q}&to={q}", $"/device?user_code={q}",
                $"/consent?client_id={q}&scope={q}", $"/signin/reset?token={q}", $"/console/catalog?created={q}",
                $"/account?welcome={q}", $"/account/billing?welcome={q}&failed={q}", $"/nothing-here/{q}",
            ]);
        }

        foreach (var q in new[] { Corpus[4], "java\tscript:alert(23)", "/\t/evil.example/", "//evil.example/%2F.." }.Select(Uri.EscapeDataString))
        {
            pages.AddRange([$"/signin?returnUrl={q}", $"/signin/code?returnUrl={q}", $"/signin/continue?returnUrl={q}", $"/profiles?returnUrl={q}"]);
        }

        var site = browser.BaseAddress.GetLeftPart(UriPartial.Authority) + "/";
        var live = new List<string>();
        var shown = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var path in pages)
        {
            await session.GoAsync(path);
            if (!session.Page.Url.StartsWith(site, StringComparison.Ordinal))
            {
                live.Add($"{path}: left the site for {session.Page.Url}");
                continue;
            }

            live.AddRange((await ProbeAsync(session.Page, LiveMarkupProbe)).Select(f => $"{path}: {f}"));
            var text = string.Join(' ', await ProbeAsync(session.Page, "() => [document.body.innerText, document.title]"));
            shown[path] = Corpus.Count(p => text.Contains(p, StringComparison.Ordinal) || (p.Length > 12 && text.Contains(p[..12], StringComparison.Ordinal)));
        }

        output.WriteLine($"{Corpus.Length} payloads, {seeded.Titles.Count} titles seeded; {pages.Count} pages visited; " +
                         $"{shown.Values.Count(v => v > 0)} of them show a payload as text ({shown.Values.Sum()} payload texts in all)");

        // A last page after all others, so that an asynchronous handler (autofocus, toggle) has had every chance to run.
        await session.GoAsync("/");
        lock (dialogs)
        {
            Assert.True(dialogs.Count == 0, $"{dialogs.Count} dialogs opened:{Environment.NewLine}{string.Join(Environment.NewLine, dialogs)}");
        }

        Assert.True(live.Count == 0, $"Live markup from the corpus:{Environment.NewLine}{string.Join(Environment.NewLine, live)}");
        var violations = session.Errors.Where(e => e.Contains("CSP violation", StringComparison.Ordinal)).ToList();
        Assert.True(violations.Count == 0, $"{violations.Count} CSP violations:{Environment.NewLine}{string.Join(Environment.NewLine, violations)}");

        // The pages did render the payloads, as text: the titles' pages each show theirs, the search echoes its query,
        // the console lists show the seeded names.
        Assert.All(seeded.Titles, t => Assert.True(shown[$"/title/{t.Slug}"] > 0, $"/title/{t.Slug} shows no payload as text"));
        foreach (var path in new[] { "/browse", "/console/catalog", "/console/compliance/audit", "/console/rights/suppliers", "/console/rights/contracts",
                     "/console/billing/coupons", "/console/identity/apps", "/console/media/library", "/profiles", "/plans" })
        {
            Assert.True(shown[path] > 0, $"{path} shows no payload as text");
        }

        Assert.All(pages.Where(p => p.StartsWith("/search?", StringComparison.Ordinal)), p => Assert.True(shown[p] > 0, $"{p} does not echo its query"));
    }

    [Fact]
    public async Task Control_TheProbeSeesPayloadsThatRun()
    {
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Anonymous);
        var dialogs = new List<string>();
        session.Page.Dialog += async (_, dialog) =>
        {
            lock (dialogs)
            {
                dialogs.Add(dialog.Message);
            }

            await dialog.DismissAsync();
        };

        // Under the product's CSP: a payload put in the page as markup is blocked, and the violation is seen.
        await session.GoAsync("/");
        await session.Page.EvaluateAsync("p => document.querySelector('main').insertAdjacentHTML('beforeend', p)", Corpus[1]);
        await session.Page.EvaluateAsync("() => { const s = document.createElement('script'); s.textContent = 'alert(100)'; document.body.append(s); }");
        await Microsoft.Playwright.Assertions.Expect(session.Page.Locator("main img[src=x]")).ToHaveCountAsync(1);
        await WaitForAsync(() => session.Errors.Count(e => e.Contains("CSP violation", StringComparison.Ordinal)) >= 2, "two CSP violations (the handler, the inline script)");
        Assert.NotEmpty(await session.Page.EvaluateAsync<string[]>(LiveMarkupProbe));
        Assert.Empty(dialogs);

        // Without CSP (about:blank), the corpus set by innerHTML runs: dialogs open, the probe finds live markup.
        await session.Page.GotoAsync("about:blank");
        var found = 0;
        for (var i = 0; i < Corpus.Length; i++)
        {
            found += (await session.Page.EvaluateAsync<string[]>(
                "p => { document.body.innerHTML = '<div id=t></div>'; document.getElementById('t').innerHTML = p; return (" + LiveMarkupProbe + ")(); }", Corpus[i])).Length > 0 ? 1 : 0;
            if (i == 1 || i == 13)
            {
                var expected = (i + 1).ToString(CultureInfo.InvariantCulture);
                await WaitForAsync(() => { lock (dialogs) { return dialogs.Contains(expected); } }, $"the dialog of payload {expected}");
            }
        }

        lock (dialogs)
        {
            output.WriteLine($"Without encoding or CSP: live markup for {found} of {Corpus.Length} payloads, {dialogs.Count} dialogs ({string.Join(", ", dialogs)})");
        }

        Assert.True(found >= Corpus.Length / 2, $"the probe found live markup for only {found} of {Corpus.Length} payloads without encoding");
        Assert.Contains("2", dialogs);
        Assert.Contains("14", dialogs);
    }

    /// <summary>Evaluates in the page; a page that moves on by itself (the sign-in's meta refresh) is probed where it lands.</summary>
    private static async Task<string[]> ProbeAsync(IPage page, string script)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await page.EvaluateAsync<string[]>(script);
            }
            catch (PlaywrightException e) when (attempt < 3 && e.Message.Contains("Execution context was destroyed", StringComparison.Ordinal))
            {
                // The page it moved to loads; on a loaded box (a full run beside other work, load ~27) that took more than
                // the context's 15 s once, so this wait has a minute. A wait that still times out is retried, as the page
                // may have moved on again meanwhile.
                try
                {
                    await page.WaitForLoadStateAsync(LoadState.Load, new PageWaitForLoadStateOptions { Timeout = 60_000 });
                }
                catch (TimeoutException) when (attempt < 2)
                {
                }
            }
        }
    }

    private static Task WaitForAsync(Func<bool> condition, string what) =>
        Marquee.Tests.Support.Poll.UntilAsync(() => Task.FromResult(condition()), done => done, what: what);

    private async Task SignInAsync(BrowserSession session, string cookie) =>
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

    private sealed record Seeded(List<(Guid Id, string Slug)> Titles, List<string> GenreSlugs);

    /// <summary>Puts the corpus into every text the API takes and the pages show; fails when the API refuses what it must take.</summary>
    private static async Task<Seeded> SeedAsync(HttpClient api)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var titles = new List<(Guid, string)>();
        for (var i = 0; i < Corpus.Length; i++)
        {
            var p = Corpus[i];
            using var created = await api.PostAsJsonAsync("/api/catalog/titles", new { name = $"{p} {run}", kind = "Track", synopsis = $"Synopsis {p}", collection = $"{p} {run}", number = 1 });
            Assert.True(created.StatusCode == HttpStatusCode.Created, $"title {i}: {created.StatusCode} {await created.Content.ReadAsStringAsync()}");
            var title = await created.Content.ReadFromJsonAsync<JsonElement>();
            var id = title.GetProperty("id").GetGuid();
            titles.Add((id, title.GetProperty("slug").GetString()!));
            using var details = await api.PutAsJsonAsync($"/api/catalog/titles/{id}/details", new
            {
                defaultLanguage = "en",
                texts = new[] { new { language = "fr", name = $"FR {p}", synopsis = $"FR {p}" } },
                genres = new[] { $"{p} {run}" },
                tags = new[] { p },
                credits = new[] { new { name = $"{p} {run}", role = "Artist", character = (string?)null }, new { name = $"Actor {p} {run}", role = "Actor", character = (string?)p } },
            });
            Assert.True(details.StatusCode == HttpStatusCode.OK, $"details {i}: {details.StatusCode} {await details.Content.ReadAsStringAsync()}");
        }

        var genres = new List<string>();
        foreach (var (id, _) in titles.Take(3))
        {
            var details = await api.GetFromJsonAsync<JsonElement>($"/api/catalog/titles/{id}/details");
            genres.AddRange(details.GetProperty("genres").EnumerateArray().Select(g => g.GetProperty("slug").GetString()!));
        }

        // The account's own name and its profiles (the profile and account pages).
        await Ok(api.PutAsJsonAsync("/api/identity/profile", new { displayName = Corpus[1] }));
        foreach (var p in Corpus.Take(3))
        {
            await Ok(api.PostAsJsonAsync("/api/identity/profiles", new { name = p[..Math.Min(p.Length, 30)] }));
        }

        // Billing: a plan (the public plans page) and a coupon.
        await Ok(api.PostAsJsonAsync("/api/billing/plans", new { code = $"xss-{run}", name = Corpus[1], period = "Monthly", prices = new Dictionary<string, long> { ["EUR"] = 100 }, maxHeight = 720, streams = 1 }));
        await Ok(api.PostAsJsonAsync("/api/billing/coupons", new { code = $"xss-{run}", name = Corpus[2], percentOff = 10, duration = "once" }));

        // Rights: a supplier with a contact, its contract with terms, a licence.
        using var provider = await api.PostAsJsonAsync("/api/rights/providers", new { name = $"{Corpus[0]} {run}", kind = "provider", contacts = new[] { new { name = Corpus[5], email = "xss@example.com", phone = Corpus[16], role = Corpus[9] } } });
        Assert.True(provider.IsSuccessStatusCode, $"provider: {provider.StatusCode} {await provider.Content.ReadAsStringAsync()}");
        var providerId = (await provider.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await Ok(api.PostAsJsonAsync("/api/rights/contracts", new { providerId, contract = new { name = $"{Corpus[1]} {run}", feeModel = "Flat", currency = "EUR", paymentSchedule = "OneOff", terms = Corpus[10], flatFee = 100 } }));
        await Ok(api.PostAsJsonAsync("/api/rights/licences", new
        {
            name = $"{Corpus[6]} {run}", titleIds = new[] { titles[0].Item1 }, startsAt = TimeProvider.System.GetUtcNow().AddDays(-1), endsAt = TimeProvider.System.GetUtcNow().AddYears(1),
            platforms = "Web, Mobile, Tv", serviceModels = "Svod, Avod, Tvod", worldwide = true, exclusive = false,
        }));

        // Identity: a client app whose name the apps console shows.
        await Ok(api.PostAsJsonAsync("/api/identity/apps", new { clientId = $"xss-{run}", displayName = Corpus[17], type = "public", redirectUris = new[] { "http://127.0.0.1/callback" }, grantTypes = new[] { "authorization_code" } }));

        // Media: a library item with a payload for name and tags.
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent("script"u8.ToArray()), "file", "x.txt" },
            { new StringContent("Script"), "kind" },
            { new StringContent($"{Corpus[3]} {run}"), "name" },
            { new StringContent(string.Join(",", Corpus.Take(4).Select(p => p.Replace(",", " ", StringComparison.Ordinal)))), "tags" },
        };
        await Ok(api.PostAsync("/api/media/library", form));
        return new Seeded(titles, genres);
    }

    private static async Task Ok(Task<HttpResponseMessage> call)
    {
        using var response = await call;
        Assert.True(response.IsSuccessStatusCode, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
