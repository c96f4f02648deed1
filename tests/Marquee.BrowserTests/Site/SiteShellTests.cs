using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Site;

/// <summary>The public site's shell: home page, header, sign-in page, keyboard use.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class SiteShellTests(BrowserFixture browser)
{
    [Fact]
    public async Task OpenHome_WhenCatalogHasTitles_ShowsNewestWithoutBrowserErrors()
    {
        await using var session = await browser.OpenAsync();

        var response = await session.GoAsync("/");

        Assert.Equal(200, response.Status);
        await Expect(session.Page).ToHaveTitleAsync(new Regex("Marquee"));
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToBeVisibleAsync();
        var newest = session.Page.GetByRole(AriaRole.Region, new() { Name = "Newest titles" });
        // The newest two titles, whatever other tests of the shared host have added before this one.
        var titles = await browser.App.Client.GetFromJsonAsync<JsonElement[]>("/api/catalog/titles?take=2");
        Assert.Equal(2, titles!.Length);
        foreach (var title in titles)
        {
            await Expect(newest.GetByRole(AriaRole.Link, new() { Name = title.GetProperty("name").GetString()!, Exact = true })).ToBeVisibleAsync();
        }

        await Expect(newest.GetByRole(AriaRole.Listitem)).Not.ToHaveCountAsync(0);
        session.AssertNoErrors();
    }

    [Fact]
    public async Task OpenHome_WhenServed_CarriesStrictContentSecurityPolicy()
    {
        await using var session = await browser.OpenAsync();

        var response = await session.GoAsync("/");

        var csp = await response.HeaderValueAsync("content-security-policy");
        Assert.NotNull(csp);
        Assert.Contains("script-src 'self';", csp, StringComparison.Ordinal);
        Assert.Contains("style-src 'self';", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.Equal(0, await session.Page.Locator("[style]").CountAsync());
        Assert.Equal(0, await session.Page.Locator("script:not([src])").CountAsync());
        session.AssertNoErrors();
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/browse")]
    [InlineData("/title/marquee-weekly-episode-1")]
    [InlineData("/signin")]
    [InlineData("/console/catalog")]
    [InlineData("/console/compliance/audit")]
    public async Task OpenPage_WhenViewportIsPhoneSized_FitsWithoutSidewaysScrolling(string path)
    {
        await using var session = await browser.OpenAsync(phone: true);

        await session.GoAsync(path);

        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToBeVisibleAsync();
        var overflow = await session.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");
        Assert.True(overflow <= 0, $"{path} is {overflow}px wider than a phone's screen");
        session.AssertNoErrors();
    }

    [Fact]
    public async Task PressTab_WhenPageLoaded_FocusesSkipLinkFirstAndItMovesFocusToMain()
    {
        await using var session = await browser.OpenAsync();
        await session.GoAsync("/browse");

        await session.Page.Keyboard.PressAsync("Tab");

        var skip = session.Page.GetByRole(AriaRole.Link, new() { Name = "Skip to main content" });
        await Expect(skip).ToBeFocusedAsync();
        await Expect(skip).ToBeInViewportAsync();

        await session.Page.Keyboard.PressAsync("Enter");

        await Expect(session.Page.Locator("main#main")).ToBeFocusedAsync();
        await session.Page.Keyboard.PressAsync("Tab");
        await Expect(session.Page.GetByRole(AriaRole.Link, new() { Name = "All", Exact = true })).ToBeFocusedAsync();
        session.AssertNoErrors();
    }

    [Fact]
    public async Task FollowSignInLink_WhenSignedOut_ShowsTheSignInForm()
    {
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Anonymous);
        await session.GoAsync("/");

        await session.Page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = "Sign in" }).ClickAsync();

        await Expect(session.Page).ToHaveURLAsync(new Regex("/signin$"));
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        await Expect(session.Page.GetByLabel("E-mail", new() { Exact = true })).ToBeVisibleAsync();
        await Expect(session.Page.GetByLabel("Password")).ToBeVisibleAsync();
        session.AssertNoErrors();
    }

    [Fact]
    public async Task OpenUnknownAddress_WhenNoPageThere_Answers404WithNotFoundPage()
    {
        await using var session = await browser.OpenAsync();

        var response = await session.GoAsync("/no-such-page");

        Assert.Equal(404, response.Status);
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Page not found", Level = 1 })).ToBeVisibleAsync();
        await Expect(session.Page.GetByRole(AriaRole.Link, new() { Name = "Skip to main content" })).ToHaveCountAsync(1);
    }
}
