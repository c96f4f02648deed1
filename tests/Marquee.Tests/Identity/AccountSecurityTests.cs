using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.Identity;
using Marquee.Identity.Contracts;
using Marquee.Identity.Data;
using Marquee.Media.Contracts;
using Marquee.Platform.Events;
using Marquee.Tests.Support;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Marquee.Tests.Identity;

/// <summary>Sign-in links, password reset, sessions and devices, the stream limit, account deletion.</summary>
public sealed partial class AccountSecurityTests
{
    private const string Password = "a long enough pass phrase";

    [Fact]
    public async Task SignInLink_WhenUsedInTheBrowserThatAsked_SignsInOnceOnly()
    {
        await using var app = await MarqueeApp.StartAsync();
        var (email, _) = await ViewerAsync(app);
        using var browser = Browser(app);

        var asked = await browser.PostAsJsonAsync("/api/identity/links", new { email });
        Assert.Equal(HttpStatusCode.Accepted, asked.StatusCode);
        var token = await TokenFromMailAsync(app, email, "signin/link");

        var used = await browser.PostAsJsonAsync("/api/identity/links/signin", new { token });
        Assert.Equal(HttpStatusCode.NoContent, used.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/api/identity/me")).StatusCode);

        var replay = await browser.PostAsJsonAsync("/api/identity/links/signin", new { token });
        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.Contains("link-refused", await replay.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignInLink_WhenOpenedInAnotherBrowser_IsRefusedAndStillWorksInTheRightOne()
    {
        await using var app = await MarqueeApp.StartAsync();
        var (email, _) = await ViewerAsync(app);
        using var asking = Browser(app);
        using var other = Browser(app);
        await other.PostAsJsonAsync("/api/identity/links", new { email = "someone-else@example.com" }); // other has its own binding cookie
        await asking.PostAsJsonAsync("/api/identity/links", new { email });
        var token = await TokenFromMailAsync(app, email, "signin/link");

        var elsewhere = await other.PostAsJsonAsync("/api/identity/links/signin", new { token });
        var noCookie = await app.AnonymousClient.PostAsJsonAsync("/api/identity/links/signin", new { token });
        var here = await asking.PostAsJsonAsync("/api/identity/links/signin", new { token });

        Assert.Equal(HttpStatusCode.BadRequest, elsewhere.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await other.GetAsync("/api/identity/me")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, noCookie.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, here.StatusCode);
    }

    [Fact]
    public async Task SignInLink_WhenExpired_IsRefused()
    {
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        await using var app = await MarqueeApp.StartAsync(c => c["Marquee:Roles"] = "web", s => s.AddSingleton<TimeProvider>(clock));
        var (email, _) = await ViewerAsync(app);
        using var browser = Browser(app);
        await browser.PostAsJsonAsync("/api/identity/links", new { email });
        var token = await TokenFromMailAsync(app, email, "signin/link");

        clock.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        var late = await browser.PostAsJsonAsync("/api/identity/links/signin", new { token });

        Assert.Equal(HttpStatusCode.BadRequest, late.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("/api/identity/me")).StatusCode);
    }

    [Fact]
    public async Task LinkAndResetRequests_ForKnownAndUnknownEmails_AnswerTheSameBytesAndHashTheSame()
    {
        var counter = new HashCounter();
        await using var app = await MarqueeApp.StartAsync(services: s =>
        {
            s.AddSingleton(counter);
            s.Replace(ServiceDescriptor.Scoped<IPasswordHasher<Account>>(sp =>
                new CountingHasher(new PasswordHasher<Account>(sp.GetRequiredService<IOptions<PasswordHasherOptions>>()), sp.GetRequiredService<HashCounter>())));
        });
        var (known, _) = await ViewerAsync(app);
        var unknown = $"nobody-{Guid.NewGuid():N}@example.com";

        foreach (var path in new[] { "/api/identity/links", "/api/identity/password/reset" })
        {
            var before = counter.Read();
            var a = await Browser(app).PostAsJsonAsync(path, new { email = known });
            var afterKnown = counter.Read();
            var b = await Browser(app).PostAsJsonAsync(path, new { email = unknown });
            var afterUnknown = counter.Read();

            Assert.Equal(a.StatusCode, b.StatusCode);
            Assert.Equal(await a.Content.ReadAsByteArrayAsync(), await b.Content.ReadAsByteArrayAsync());
            Assert.Equal(a.Content.Headers.ContentType?.ToString(), b.Content.Headers.ContentType?.ToString());
            Assert.Equal(afterKnown.Verifies - before.Verifies, afterUnknown.Verifies - afterKnown.Verifies);
            Assert.True(afterKnown.Verifies - before.Verifies >= 1, "the hasher did not run");
        }

        var folder = Path.Combine(app.DataDir, "mail");
        var mails = await Task.WhenAll(Directory.GetFiles(folder, "*.eml").Select(f => File.ReadAllTextAsync(f)));
        Assert.DoesNotContain(mails, m => m.Contains(unknown, StringComparison.OrdinalIgnoreCase));
        Assert.Equal(2, mails.Count(m => m.Contains(known, StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public async Task PasswordReset_WithTheLink_SetsTheNewPasswordOnceAndEndsEverySession()
    {
        await using var app = await MarqueeApp.StartAsync();
        var (email, cookie) = await ViewerAsync(app);
        var signedIn = app.ClientWith(cookie);
        using var browser = Browser(app);
        await browser.PostAsJsonAsync("/api/identity/password/reset", new { email });
        var token = await TokenFromMailAsync(app, email, "signin/reset");
        const string next = "another long pass phrase";

        var weak = await browser.PostAsJsonAsync("/api/identity/password/reset/complete", new { token, password = "password" });
        var done = await browser.PostAsJsonAsync("/api/identity/password/reset/complete", new { token, password = next });
        var replay = await browser.PostAsJsonAsync("/api/identity/password/reset/complete", new { token, password = "yet another pass phrase" });

        Assert.Equal(HttpStatusCode.BadRequest, weak.StatusCode); // refused, and the link is not spent by it
        Assert.Equal(HttpStatusCode.NoContent, done.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await signedIn.GetAsync("/api/identity/me")).StatusCode);
        await app.SignInAsync(email, next);
        await Assert.ThrowsAsync<InvalidOperationException>(() => app.SignInAsync(email, Password));
        Assert.Contains(await AuditActionsAsync(app), a => a == "identity.password-reset");
    }

    [Fact]
    public async Task Sessions_WhenOneIsRevoked_ItsCookieStopsAtOnceAndTheOthersGoOn()
    {
        await using var app = await MarqueeApp.StartAsync();
        var (email, first) = await ViewerAsync(app);
        var phone = app.ClientWith(await app.SignInAsync(email, Password));
        var tv = app.ClientWith(await app.SignInAsync(email, Password));
        var laptop = app.ClientWith(first);
        Assert.Equal(HttpStatusCode.OK, (await phone.GetAsync("/api/identity/me")).StatusCode); // caches the phone's session as live

        var sessions = await laptop.GetFromJsonAsync<JsonElement>("/api/identity/sessions");
        Assert.Equal(3, sessions.GetArrayLength());
        Assert.Single(sessions.EnumerateArray(), s => s.GetProperty("current").GetBoolean());
        Assert.All(sessions.EnumerateArray(), s => Assert.Equal("127.0.0.1", s.GetProperty("ip").GetString()));
        var phoneId = (await phone.GetFromJsonAsync<JsonElement>("/api/identity/sessions")).EnumerateArray().Single(s => s.GetProperty("current").GetBoolean()).GetProperty("id").GetGuid();

        Assert.Equal(HttpStatusCode.NoContent, (await laptop.DeleteAsync($"/api/identity/sessions/{phoneId}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await phone.GetAsync("/api/identity/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await tv.GetAsync("/api/identity/me")).StatusCode);

        // Another account cannot revoke this one's sessions.
        var stranger = await app.ClientWithRolesAsync();
        var laptopId = sessions.EnumerateArray().Single(s => s.GetProperty("current").GetBoolean()).GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.DeleteAsync($"/api/identity/sessions/{laptopId}")).StatusCode);

        var others = await laptop.PostAsync("/api/identity/sessions/revoke-others", null);
        Assert.Equal(1, (await others.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revoked").GetInt32());
        Assert.Equal(HttpStatusCode.Unauthorized, (await tv.GetAsync("/api/identity/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await laptop.GetAsync("/api/identity/me")).StatusCode);
    }

    [Fact]
    public async Task SignOut_EndsTheSessionOnTheServer_SoACopyOfItsCookieNoLongerWorks()
    {
        // R31 (found by the viewer crawl of bench/web-scan.sh): signing out only cleared the cookie in the browser; the
        // session stayed live, so the same cookie kept an account signed in (ASVS 7.4.1).
        await using var app = await MarqueeApp.StartAsync();
        var (email, other) = await ViewerAsync(app);
        var cookie = await app.SignInAsync(email, Password);
        var signingOut = app.ClientWith(cookie);
        var copy = app.ClientWith(cookie); // the same cookie elsewhere: copied, or kept by a crawler that ignores Set-Cookie
        Assert.Equal(HttpStatusCode.OK, (await copy.GetAsync("/api/identity/me")).StatusCode); // control: it works before (and the session is cached as live)

        Assert.Equal(HttpStatusCode.NoContent, (await signingOut.PostAsync("/api/identity/signout", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await copy.GetAsync("/api/identity/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.ClientWith(other).GetAsync("/api/identity/me")).StatusCode); // the account's other sessions go on
        var sessions = await app.ClientWith(other).GetFromJsonAsync<JsonElement>("/api/identity/sessions");
        Assert.Equal(1, sessions.GetArrayLength());
    }

    [Fact]
    public async Task AccountPage_OpenedTheFirstTime_DoesNotSignOutTheAccountsOtherSessions()
    {
        // R31 (found by the crawls of bench/web-scan.sh: every signed-in crawl was signed out 30 minutes after its sign-in):
        // the first view of /account made the authenticator enrolment key through ResetAuthenticatorKeyAsync, which also
        // renews the security stamp, so every session of the account failed its next stamp check.
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        await using var app = await MarqueeApp.StartAsync(c => c["Marquee:Roles"] = "web", s => s.AddSingleton<TimeProvider>(clock));
        var (email, cookie) = await ViewerAsync(app);
        var other = app.ClientWith(await app.SignInAsync(email, Password));
        var page = await app.ClientWith(cookie).GetAsync("/account");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("id=\"totp-key\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal); // the key was made

        clock.Advance(TimeSpan.FromMinutes(31)); // past the stamp check's interval (30 minutes)
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/api/identity/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.ClientWith(cookie).GetAsync("/api/identity/me")).StatusCode);

        // Control: a renewed stamp does end the sessions at their next check (the check runs, under this clock).
        await app.ScopedAsync(async sp =>
        {
            var users = sp.GetRequiredService<UserManager<Account>>();
            return await users.UpdateSecurityStampAsync((await users.FindByEmailAsync(email))!);
        });
        clock.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(HttpStatusCode.Unauthorized, (await other.GetAsync("/api/identity/me")).StatusCode);
    }

    [Fact]
    public async Task PasswordChange_NeedsTheCurrentPasswordAndSignsOutOtherDevices()
    {
        await using var app = await MarqueeApp.StartAsync();
        var (email, cookie) = await ViewerAsync(app);
        var here = app.ClientWith(cookie);
        var other = app.ClientWith(await app.SignInAsync(email, Password));

        var wrong = await here.PostAsJsonAsync("/api/identity/password", new { current = "not it at all", @new = "a brand new pass phrase" });
        var changed = await here.PostAsJsonAsync("/api/identity/password", new { current = Password, @new = "a brand new pass phrase" });

        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);
        var renewed = app.ClientWith(MarqueeApp.SessionCookie(changed));
        Assert.Equal(HttpStatusCode.OK, (await renewed.GetAsync("/api/identity/me")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await other.GetAsync("/api/identity/me")).StatusCode);
        await app.SignInAsync(email, "a brand new pass phrase");
        Assert.Contains(await AuditActionsAsync(app), a => a == "identity.password-changed");
    }

    [Fact]
    public async Task StreamLimit_WhenTheAccountPlaysOnAsManyScreensAsAllowed_RefusesOneMoreWithAReason()
    {
        await using var app = await MarqueeApp.StartAsync(
            c => c["Marquee:Identity:MaxConcurrentStreams"] = "2",
            s => s.AddSingleton<IMediaPackages>(new AnyTitle()));
        var (email, cookie) = await ViewerAsync(app);
        var screens = new[] { app.ClientWith(cookie), app.ClientWith(await app.SignInAsync(email, Password)), app.ClientWith(await app.SignInAsync(email, Password)) };
        var title = Guid.NewGuid();

        var first = await screens[0].PostAsJsonAsync("/api/playback/sessions", new { titleId = title });
        var second = await screens[1].PostAsJsonAsync("/api/playback/sessions", new { titleId = title });
        var third = await screens[2].PostAsJsonAsync("/api/playback/sessions", new { titleId = title });
        var otherAccount = await (await app.ClientWithRolesAsync()).PostAsJsonAsync("/api/playback/sessions", new { titleId = title });

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, third.StatusCode);
        Assert.Contains("already playing on 2 screens", (await third.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, otherAccount.StatusCode);

        // Stopping one frees a screen.
        var id = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetGuid();
        Assert.True((await screens[0].PostAsJsonAsync($"/api/playback/sessions/{id}/end", new { })).IsSuccessStatusCode);
        Assert.Equal(HttpStatusCode.Created, (await screens[2].PostAsJsonAsync("/api/playback/sessions", new { titleId = title })).StatusCode);
    }

    [Fact]
    public async Task Deletion_SignsOutCanBeCancelledAndIsSweptAfterTheGracePeriodWithAnEvent()
    {
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        await using var app = await MarqueeApp.StartAsync(c => c["Marquee:Roles"] = "web", s => s.AddSingleton<TimeProvider>(clock));
        var (email, cookie) = await ViewerAsync(app);
        var (keptEmail, keptCookie) = await ViewerAsync(app);
        var client = app.ClientWith(cookie);

        var asked = await client.PostAsJsonAsync("/api/identity/deletion", new { password = Password });
        Assert.Equal(HttpStatusCode.OK, asked.StatusCode);
        Assert.Equal(clock.GetUtcNow().AddDays(30), (await asked.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("deleteAfter").GetDateTimeOffset());
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/identity/me")).StatusCode);

        // The other account asks too, then signs in again within the grace period and keeps its account.
        var kept = app.ClientWith(keptCookie);
        Assert.Equal(HttpStatusCode.OK, (await kept.PostAsJsonAsync("/api/identity/deletion", new { password = Password })).StatusCode);
        var back = app.ClientWith(await app.SignInAsync(keptEmail, Password));
        Assert.Equal(HttpStatusCode.NoContent, (await back.DeleteAsync("/api/identity/deletion")).StatusCode);

        clock.Advance(TimeSpan.FromDays(29));
        Assert.Equal(0, await SweepAsync(app));
        clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));
        Assert.Equal(1, await SweepAsync(app));

        Assert.Null(await FindAsync(app, email));
        Assert.NotNull(await FindAsync(app, keptEmail));
        var events = await app.ScopedAsync(async sp => await sp.GetRequiredService<IdentityDb>().Set<OutboxMessage>().AsNoTracking()
            .Where(m => m.EventName == "identity.account-deleted.v1").Select(m => m.Payload).ToListAsync());
        Assert.Single(events);
        await Assert.ThrowsAsync<InvalidOperationException>(() => app.SignInAsync(email, Password));
    }

    [Fact]
    public async Task Deletion_AsksForThePasswordOfAnAccountThatHasOne_AndAWrongOneChangesNothing()
    {
        // Re-authentication before deleting (R31: the viewer crawl of bench/web-scan.sh ticked the box and deleted its account).
        await using var app = await MarqueeApp.StartAsync();
        var (email, cookie) = await ViewerAsync(app);
        var client = app.ClientWith(cookie);

        var none = await client.PostAsync("/api/identity/deletion", null);
        var wrong = await client.PostAsJsonAsync("/api/identity/deletion", new { password = "not it at all" });

        foreach (var refused in new[] { none, wrong })
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Contains("deletion-refused", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/identity/me")).StatusCode);
        Assert.Null((await FindAsync(app, email))!.DeleteAfter);

        // Control: the right one marks it and signs out.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/identity/deletion", new { password = Password })).StatusCode);
        Assert.NotNull((await FindAsync(app, email))!.DeleteAfter);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/identity/me")).StatusCode);
    }

    [Fact]
    public async Task DeletionForm_WithOnlyTheBoxTickedOrAWrongPassword_ChangesNothingAndStaysSignedIn()
    {
        // The account page's form asks for the password too (it asked for a ticked box only, so a crawler posting its
        // forms, or anyone at an open session, deleted the account).
        await using var app = await MarqueeApp.StartAsync();
        var (email, cookie) = await ViewerAsync(app);
        using var page = PageBrowser(app, cookie);
        var form = await AccountFormAsync(page);
        Assert.Contains("id=\"delete-password\"", form.Html, StringComparison.Ordinal);

        var boxOnly = await PostDeleteAsync(page, form.Token, new() { ["Delete.Confirm"] = "true" });
        var wrong = await PostDeleteAsync(page, form.Token, new() { ["Delete.Confirm"] = "true", ["Delete.Password"] = "not it at all" });

        foreach (var refused in new[] { boxOnly, wrong })
        {
            Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
            var html = await refused.Content.ReadAsStringAsync();
            Assert.Contains("The password is not right. Your account is not deleted.", html, StringComparison.Ordinal);
            Assert.DoesNotContain("not it at all", html, StringComparison.Ordinal); // the typed password is not shown back
        }

        Assert.Equal(HttpStatusCode.OK, (await app.ClientWith(cookie).GetAsync("/api/identity/me")).StatusCode);
        Assert.Null((await FindAsync(app, email))!.DeleteAfter);

        // Control: the right password (box ticked) marks it, signs out and goes to the sign-in page.
        var done = await PostDeleteAsync(page, form.Token, new() { ["Delete.Confirm"] = "true", ["Delete.Password"] = Password });
        Assert.Equal(HttpStatusCode.Redirect, done.StatusCode);
        Assert.Equal("/signin?deleted=1", done.Headers.Location?.PathAndQuery);
        Assert.NotNull((await FindAsync(app, email))!.DeleteAfter);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.ClientWith(cookie).GetAsync("/api/identity/me")).StatusCode);
    }

    [Fact]
    public async Task DeletionForm_OfAnAccountWithoutPassword_AsksForTheTickedBoxOnly()
    {
        // Nothing to re-confirm (external sign-in, passkeys or links only): as POST /api/identity/deletion, the session
        // asks and the grace period is the safety net.
        await using var app = await MarqueeApp.StartAsync();
        var (email, cookie) = await ViewerAsync(app);
        await app.ScopedAsync(sp => sp.GetRequiredService<IdentityDb>().Accounts.Where(a => a.Email == email).ExecuteUpdateAsync(u => u.SetProperty(a => a.PasswordHash, (string?)null)));
        using var page = PageBrowser(app, cookie);
        var form = await AccountFormAsync(page);
        Assert.DoesNotContain("id=\"delete-password\"", form.Html, StringComparison.Ordinal);

        var unticked = await PostDeleteAsync(page, form.Token, []);
        Assert.Contains("Tick the box", await unticked.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null((await FindAsync(app, email))!.DeleteAfter);

        var done = await PostDeleteAsync(page, form.Token, new() { ["Delete.Confirm"] = "true" });
        Assert.Equal(HttpStatusCode.Redirect, done.StatusCode);
        Assert.NotNull((await FindAsync(app, email))!.DeleteAfter);
    }

    /// <summary>A browser on the pages (its own cookie jar, redirects not followed), signed in with <paramref name="cookie"/>.</summary>
    private static HttpClient PageBrowser(MarqueeApp app, string cookie) =>
        new(new CookieJar { InnerHandler = new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false } }.With(cookie)) { BaseAddress = app.BaseAddress };

    private static async Task<(string Html, string Token)> AccountFormAsync(HttpClient page)
    {
        var response = await page.GetAsync("/account");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        var token = AntiforgeryField().Match(html);
        Assert.True(token.Success, "no antiforgery token on /account");
        return (html, WebUtility.HtmlDecode(token.Groups[1].Value));
    }

    private static Task<HttpResponseMessage> PostDeleteAsync(HttpClient page, string token, Dictionary<string, string> fields) =>
        page.PostAsync("/account", new FormUrlEncodedContent(new Dictionary<string, string>(fields) { ["_handler"] = "delete", ["__RequestVerificationToken"] = token }));

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    private static Task<int> SweepAsync(MarqueeApp app) =>
        app.ScopedAsync(sp => sp.GetRequiredService<AccountDeletions>().SweepAsync(100, CancellationToken.None));

    private static Task<Account?> FindAsync(MarqueeApp app, string email) =>
        app.ScopedAsync(sp => sp.GetRequiredService<IdentityDb>().Accounts.AsNoTracking().SingleOrDefaultAsync(a => a.Email == email));

    private static async Task<List<string>> AuditActionsAsync(MarqueeApp app) =>
        await Poll.UntilAsync(async () =>
        {
            var audit = await app.Client.GetFromJsonAsync<JsonElement>("/api/compliance/audit?take=200");
            return audit.EnumerateArray().Select(e => e.GetProperty("action").GetString()!).ToList();
        }, a => a.Any(x => x is "identity.password-reset" or "identity.password-changed"), TimeSpan.FromSeconds(15), "the security event in the audit log");

    internal static async Task<(string Email, string Cookie)> ViewerAsync(MarqueeApp app)
    {
        var email = $"viewer-{Guid.NewGuid():N}@example.com";
        await app.CreateAccountAsync(email, Password, [Marquee.Platform.Web.Roles.Viewer]);
        return (email, await app.SignInAsync(email, Password));
    }

    /// <summary>A client with its own cookie jar, as one browser (optionally starting with a cookie).</summary>
    private static HttpClient Browser(MarqueeApp app) =>
        new(new CookieJar { InnerHandler = new HttpClientHandler { UseCookies = false } }) { BaseAddress = app.BaseAddress };

    /// <summary>
    /// A browser's cookie jar over plain-HTTP loopback: keeps every cookie the host sets (they are Secure, which
    /// browsers allow on localhost but .NET's CookieContainer does not send over http) and sends them back.
    /// </summary>
    internal sealed class CookieJar : DelegatingHandler
    {
        private readonly Dictionary<string, string> cookies = [];

        /// <summary>Starts with the cookies of a <c>Cookie</c> header (<c>a=1; b=2</c>).</summary>
        public CookieJar With(string cookieHeader)
        {
            foreach (var pair in cookieHeader.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                cookies[pair[..eq]] = pair[(eq + 1)..];
            }

            return this;
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (cookies)
            {
                if (cookies.Count > 0)
                {
                    request.Headers.Add("Cookie", string.Join("; ", cookies.Select(c => $"{c.Key}={c.Value}")));
                }
            }

            var response = await base.SendAsync(request, cancellationToken);
            foreach (var header in response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [])
            {
                var pair = header.Split(';')[0];
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                var (name, value) = (pair[..eq], pair[(eq + 1)..]);
                lock (cookies)
                {
                    if (value.Length == 0 || header.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase))
                    {
                        cookies.Remove(name);
                    }
                    else
                    {
                        cookies[name] = value;
                    }
                }
            }

            return response;
        }
    }

    internal static async Task<string> TokenFromMailAsync(MarqueeApp app, string email, string path)
    {
        var folder = Path.Combine(app.DataDir, "mail");
        var text = await Poll.UntilAsync(async () =>
        {
            foreach (var file in Directory.Exists(folder) ? Directory.GetFiles(folder, "*.eml").OrderDescending().ToArray() : [])
            {
                var content = await File.ReadAllTextAsync(file);
                if (content.Contains(email, StringComparison.OrdinalIgnoreCase) && content.Contains(path, StringComparison.Ordinal))
                {
                    return content;
                }
            }

            return null;
        }, t => t is not null, TimeSpan.FromSeconds(10), "the link e-mail");
        return Regex.Match(text!, Regex.Escape(path) + @"\?token=([A-Za-z0-9_-]+)").Groups[1].Value;
    }

    private sealed class AnyTitle : IMediaPackages
    {
        public Task<PackagedTitle?> FindPlayableAsync(Guid titleId, CancellationToken cancellationToken) =>
            Task.FromResult<PackagedTitle?>(new PackagedTitle(titleId, Guid.NewGuid(), Path.GetTempPath(), "none.m3u8", TimeSpan.FromMinutes(90)));

        public Task<byte[]?> GetContentKeyAsync(Guid assetId, CancellationToken cancellationToken) => Task.FromResult<byte[]?>(new byte[16]);
    }
}
