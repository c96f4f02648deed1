using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Catalog;

/// <summary>Catalog's public pages: browsing, filtering by kind, a title's page.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class CatalogPagesTests(BrowserFixture browser)
{
    [Fact]
    public async Task FilterBrowse_WhenKindChosen_ShowsOnlyTitlesOfThatKind()
    {
        await using var session = await browser.OpenAsync();
        await session.GoAsync("/browse");
        var titles = session.Page.Locator("main .cards");
        await Expect(titles.GetByRole(AriaRole.Link, new() { Name = "Night Drive" })).ToBeVisibleAsync();

        await session.Page.GetByRole(AriaRole.Navigation, new() { Name = "Show one kind" }).GetByRole(AriaRole.Link, new() { Name = "Films" }).ClickAsync();

        await Expect(session.Page).ToHaveURLAsync(new Regex(@"/browse\?kind=Film$"));
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Films", Level = 1 })).ToBeVisibleAsync();
        await Expect(session.Page.GetByRole(AriaRole.Link, new() { Name = "Films" })).ToHaveAttributeAsync("aria-current", "page");
        await Expect(titles.GetByRole(AriaRole.Link, new() { Name = "Sintel" })).ToBeVisibleAsync();
        await Expect(titles.GetByRole(AriaRole.Link, new() { Name = "Night Drive" })).ToHaveCountAsync(0);
        await Expect(titles.GetByRole(AriaRole.Link, new() { Name = "Marquee Weekly: Episode 1" })).ToHaveCountAsync(0);
        foreach (var meta in await titles.Locator(".card-meta").AllInnerTextsAsync())
        {
            Assert.StartsWith("Film", meta, StringComparison.Ordinal);
        }

        session.AssertNoErrors();
    }

    [Fact]
    public async Task OpenBrowse_WhenKindHasNoTitles_SaysSoPlainly()
    {
        await using var session = await browser.OpenAsync();

        await session.GoAsync("/browse?kind=episode");

        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Episodes", Level = 1 })).ToBeVisibleAsync();
        await Expect(session.Page.GetByText("No episodes yet.")).ToBeVisibleAsync();
        session.AssertNoErrors();
    }

    [Theory]
    [InlineData("/browse?page=abc")]
    [InlineData("/browse?page=99999999999")]
    [InlineData("/browse?kind=1")]
    public async Task OpenBrowse_WhenQueryIsMistyped_ShowsTitlesInsteadOfFailing(string path)
    {
        await using var session = await browser.OpenAsync();

        var response = await session.GoAsync(path);

        Assert.Equal(200, response.Status);
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "All titles", Level = 1 })).ToBeVisibleAsync();
        await Expect(session.Page.Locator("main .cards").GetByRole(AriaRole.Link, new() { Name = "Sintel" })).ToBeVisibleAsync();
        session.AssertNoErrors();
    }

    [Fact]
    public async Task OpenTitle_WhenFollowedFromBrowse_ShowsNameKindDurationAndSynopsis()
    {
        await using var session = await browser.OpenAsync();
        await session.GoAsync("/browse");

        await session.Page.Locator("main .cards").GetByRole(AriaRole.Link, new() { Name = "Big Buck Bunny" }).ClickAsync();

        await Expect(session.Page).ToHaveURLAsync(new Regex("/title/big-buck-bunny$"));
        await Expect(session.Page).ToHaveTitleAsync("Big Buck Bunny · Marquee");
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Big Buck Bunny", Level = 1 })).ToBeVisibleAsync();
        var facts = session.Page.Locator("dl.facts");
        await Expect(facts).ToContainTextAsync("Film");
        await Expect(facts).ToContainTextAsync("9 min 56 s");
        await Expect(session.Page.GetByText("A giant rabbit takes a gentle revenge")).ToBeVisibleAsync();
        await Expect(session.Page.Locator("meta[name=description]")).ToHaveAttributeAsync("content", new Regex("^A giant rabbit"));
        // The stylesheet applies below the root too (its address is relative to <base href="/">).
        await Expect(session.Page.Locator("body")).ToHaveCSSAsync("background-color", "rgb(16, 18, 23)");
        session.AssertNoErrors();
    }

    [Fact]
    public async Task OpenTitle_WhenSlugUnknown_Answers404WithNotFoundPage()
    {
        await using var session = await browser.OpenAsync();

        var response = await session.GoAsync("/title/no-such-title");

        Assert.Equal(404, response.Status);
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Page not found", Level = 1 })).ToBeVisibleAsync();
        await Expect(session.Page.Locator("link[rel=stylesheet]")).ToHaveCountAsync(1);
    }
}
