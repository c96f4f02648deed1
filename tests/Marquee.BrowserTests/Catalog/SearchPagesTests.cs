using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Catalog;

/// <summary>The site's search box finds titles despite a typo, and the hit opens the title's page.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class SearchPagesTests(BrowserFixture browser)
{
    [Fact]
    public async Task SearchFromTheHeader_WithATypo_FindsAndOpensTheTitle()
    {
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Anonymous);
        await session.GoAsync("/");

        var box = session.Page.GetByRole(AriaRole.Search).GetByRole(AriaRole.Searchbox, new() { Name = "Search titles, people and genres" });
        await box.FillAsync("Sintl");
        await box.PressAsync("Enter");

        await Expect(session.Page).ToHaveURLAsync(new Regex(@"/search\?q=Sintl$"));
        var hit = session.Page.Locator("main .cards").GetByRole(AriaRole.Link, new() { Name = "Sintel" });
        await Expect(hit).ToBeVisibleAsync();
        await hit.ClickAsync();

        await Expect(session.Page).ToHaveURLAsync(new Regex(@"/title/sintel$"));
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Sintel", Level = 1 })).ToBeVisibleAsync();
        await Expect(session.Page.GetByRole(AriaRole.Link, new() { Name = "Colin Levy" })).ToBeVisibleAsync();
        var ld = JsonSerializer.Deserialize<JsonElement>(await session.Page.Locator("script[type='application/ld+json']").TextContentAsync() ?? "{}");
        Assert.Equal("VideoObject", ld.GetProperty("@type").GetString());
        Assert.Equal("Sintel", ld.GetProperty("name").GetString());
        session.AssertNoErrors();
    }

    [Fact]
    public async Task OpenGenre_FromATitlePage_ListsTheGenresTitles()
    {
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Anonymous);
        await session.GoAsync("/title/tears-of-steel");

        await session.Page.GetByRole(AriaRole.Link, new() { Name = "Science fiction" }).ClickAsync();

        await Expect(session.Page).ToHaveURLAsync(new Regex(@"/genres/science-fiction$"));
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = "Science fiction", Level = 1 })).ToBeVisibleAsync();
        var cards = session.Page.Locator("main .cards");
        await Expect(cards.GetByRole(AriaRole.Link, new() { Name = "Tears of Steel" })).ToBeVisibleAsync();
        await Expect(cards.GetByRole(AriaRole.Link, new() { Name = "Elephants Dream" })).ToBeVisibleAsync();
        await Expect(cards.GetByRole(AriaRole.Link, new() { Name = "Sintel" })).ToHaveCountAsync(0);
        session.AssertNoErrors();
    }
}
