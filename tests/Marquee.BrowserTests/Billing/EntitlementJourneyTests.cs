using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Marquee.Media.Contracts;
using Marquee.Platform.Web;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Billing;

/// <summary>
/// The viewer's journey with entitlements required, on a host of its own whose clock the test moves
/// (<see cref="FakeTimeProvider"/>; web role only, so no worker waits on it): subscribe with a sandbox card, play a
/// subscriber-only title, cancel at period end and be refused after it; rent a title whose 48 hours start at its
/// first play, not at the purchase. Every title plays a stub package: the test looks at the playback session the
/// player asks for (the entitlement decision) and at the reason the player shows, not at the video.
/// </summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class EntitlementJourneyTests(BrowserFixture browser) : IAsyncLifetime
{
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2027, 3, 1, 9, 0, 0, TimeSpan.Zero));
    private MarqueeApp app = null!;

    public async Task InitializeAsync() =>
        app = await MarqueeApp.StartAsync(
            s =>
            {
                s["Marquee:Roles"] = "web";
                s["Marquee:Billing:RequireEntitlement"] = "true";
                s["Marquee:Identity:Risk:ChallengeThreshold"] = "900";
                s["Marquee:Identity:Risk:BlockThreshold"] = "1000";
            },
            services =>
            {
                services.AddSingleton<TimeProvider>(time);
                services.AddSingleton<IMediaPackages>(new StubPackages());
            });

    public async Task DisposeAsync() => await app.DisposeAsync();

    [Fact]
    public async Task Subscribe_PlayThenCancelAtPeriodEnd_IsRefusedAfterThePeriodEnds()
    {
        var plan = $"p{Guid.NewGuid():N}"[..12];
        var created = await app.Client.PostAsJsonAsync("/api/billing/plans", new
        {
            code = plan, name = "Standard", period = "Monthly", prices = new Dictionary<string, long> { ["EUR"] = 899 }, maxHeight = 1080, streams = 2,
        });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var titleId = await TitleAsync("Members Only");
        var (email, password) = await ViewerAsync();
        await using var session = await OpenAsync(email, password);
        var page = session.Page;

        // Not subscribed: the player says why it does not play.
        Assert.Equal(403, await PlayStatusAsync(session, titleId));
        await Expect(page.Locator("#player-status")).ToContainTextAsync("needs a subscription, a rental or a purchase");

        await session.GoAsync($"/checkout/{plan}");
        await page.GetByLabel("Country (two letters, for tax)").FillAsync("DE");
        await page.GetByLabel("Card number").FillAsync("4242 4242 4242 4242");
        await page.GetByRole(AriaRole.Button, new() { Name = "Pay and subscribe" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/account/billing\\?welcome=1$"));
        await Expect(page.Locator("#subscription-status")).ToHaveTextAsync("Active");

        Assert.Equal(201, await PlayStatusAsync(session, titleId));
        await Expect(page.Locator("#player-status")).Not.ToContainTextAsync("cannot be played");

        await session.GoAsync("/account/billing");
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel at the end of the period" }).ClickAsync();
        await Expect(page.Locator("#subscription-status")).ToContainTextAsync("ends at the end of the period");

        // Still in the paid period: it plays.
        time.Advance(TimeSpan.FromDays(20));
        await SignInAgainAsync(page, email, password);
        Assert.Equal(201, await PlayStatusAsync(session, titleId));

        // Past the period's end (one month after the checkout): refused, with the reason shown by the player.
        time.Advance(TimeSpan.FromDays(12));
        await SignInAgainAsync(page, email, password);
        Assert.Equal(403, await PlayStatusAsync(session, titleId));
        await Expect(page.Locator("#player-status")).ToContainTextAsync("This title cannot be played: This title needs a subscription, a rental or a purchase.");
    }

    [Fact]
    public async Task Rent_StartsItsFortyEightHoursAtTheFirstPlay_NotAtThePurchase()
    {
        var titleId = await TitleAsync("Rental Night");
        var offer = await app.Client.PutAsJsonAsync($"/api/billing/titles/{titleId}/offer", new { free = false, currency = "EUR", rentalPrice = 399 });
        Assert.True(offer.IsSuccessStatusCode, await offer.Content.ReadAsStringAsync());
        var (email, password) = await ViewerAsync();
        await using var session = await OpenAsync(email, password);
        var page = session.Page;

        await session.GoAsync($"/rent/{titleId}");
        await Expect(page.Locator("#purchase-price")).ToContainTextAsync("3.99 EUR");
        await Expect(page.Locator("#purchase-price")).ToContainTextAsync("30 days to start watching");
        await page.GetByLabel("Country (two letters, for tax)").FillAsync("DE");
        await page.GetByLabel("Card number").FillAsync("4242 4242 4242 4242");
        await page.GetByRole(AriaRole.Button, new() { Name = "Pay and rent" }).ClickAsync();
        await Expect(page.Locator("#purchase-done")).ToContainTextAsync("Rented");

        // Rented but not started for ten days: the 48 hours have not begun, so it plays (and they begin now).
        time.Advance(TimeSpan.FromDays(10));
        await SignInAgainAsync(page, email, password);
        Assert.Equal(201, await PlayStatusAsync(session, titleId));

        time.Advance(TimeSpan.FromHours(47));
        await SignInAgainAsync(page, email, password);
        Assert.Equal(201, await PlayStatusAsync(session, titleId));

        time.Advance(TimeSpan.FromHours(2)); // 49 hours after the first play
        await SignInAgainAsync(page, email, password);
        Assert.Equal(403, await PlayStatusAsync(session, titleId));
        await Expect(page.Locator("#player-status")).ToContainTextAsync("Your rental of this title has ended.");
    }

    /// <summary>Opens the watch page and returns the status of the playback session its player asked for.</summary>
    private static async Task<int> PlayStatusAsync(BrowserSession session, Guid titleId)
    {
        var response = await session.Page.RunAndWaitForResponseAsync(
            () => session.GoAsync($"/watch/{titleId}"),
            r => r.Url.EndsWith("/api/playback/sessions", StringComparison.Ordinal) && r.Request.Method == "POST");
        return response.Status;
    }

    private async Task<Guid> TitleAsync(string name)
    {
        var created = await app.Client.PostAsJsonAsync("/api/catalog/titles", new { name, kind = "Film" });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private async Task<(string Email, string Password)> ViewerAsync()
    {
        var email = $"journey-{Guid.NewGuid():N}@marquee.test";
        var password = Marquee.Identity.Accounts.RandomPassword();
        await app.CreateAccountAsync(email, password, [Roles.Viewer]);
        return (email, password);
    }

    private async Task<BrowserSession> OpenAsync(string email, string password)
    {
        var session = await browser.OpenAsync(app: app, signedIn: BrowserFixture.As.Anonymous);
        await SignInAgainAsync(session.Page, email, password);
        return session;
    }

    /// <summary>A fresh session cookie: sessions signed in before the clock moved weeks have expired.</summary>
    private async Task SignInAgainAsync(IPage page, string email, string password)
    {
        var header = await app.SignInAsync(email, password);
        var host = new UriBuilder(app.BaseAddress) { Host = "localhost" }.Uri.Host;
        await page.Context.ClearCookiesAsync();
        await page.Context.AddCookiesAsync(header.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(pair => new Cookie
        {
            Name = pair[..pair.IndexOf('=', StringComparison.Ordinal)],
            Value = pair[(pair.IndexOf('=', StringComparison.Ordinal) + 1)..],
            Domain = host,
            Path = "/",
            Secure = true,
            HttpOnly = true,
            SameSite = SameSiteAttribute.Lax,
        }));
    }

    private sealed class StubPackages : IMediaPackages
    {
        public Task<PackagedTitle?> FindPlayableAsync(Guid titleId, CancellationToken cancellationToken) =>
            Task.FromResult<PackagedTitle?>(new PackagedTitle(titleId, Guid.NewGuid(), Path.GetTempPath(), "none.m3u8", TimeSpan.FromMinutes(90)));

        public Task<byte[]?> GetContentKeyAsync(Guid assetId, CancellationToken cancellationToken) => Task.FromResult<byte[]?>(new byte[16]);
    }
}
