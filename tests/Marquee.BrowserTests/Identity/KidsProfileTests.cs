using System.Net.Http.Json;
using System.Text.Json;
using Marquee.BrowserTests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Identity;

/// <summary>
/// Household profiles in a browser: a kids profile made and picked on "Who is watching?" does not see an 18+ title in
/// browse or search, and its title page refuses it; the grown-up profile of the same account sees it everywhere.
/// </summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class KidsProfileTests(BrowserFixture browser)
{
    private async Task<string> TitleAsync(string name, int minimumAge)
    {
        var created = await browser.App.Client.PostAsJsonAsync("/api/catalog/titles", new { name, kind = "Film", synopsis = $"{name}, a test film rated {minimumAge}+." });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var title = await created.Content.ReadFromJsonAsync<JsonElement>();
        var details = await browser.App.Client.PutAsJsonAsync($"/api/catalog/titles/{title.GetProperty("id").GetGuid()}/details", new
        {
            genres = new[] { "Thriller" }, ageRatings = new[] { new { territory = "*", minimumAge } },
        });
        Assert.True(details.IsSuccessStatusCode, await details.Content.ReadAsStringAsync());
        return title.GetProperty("slug").GetString()!;
    }

    [Fact]
    public async Task KidsProfile_HidesAndRefusesAnAdultTitle_TheGrownUpProfileSeesIt()
    {
        var adult = await TitleAsync("Grimwater Nights", 18);
        await TitleAsync("Grimwater Lighthouse", 0); // the control: the kids profile sees the list, only without the 18+ title
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Viewer);
        var page = session.Page;

        await session.GoAsync("/profiles");
        await Expect(page.GetByText("No profiles yet")).ToBeVisibleAsync();
        await page.GetByLabel("Name").FillAsync("Robin");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add the profile" }).ClickAsync();
        await Expect(page.Locator("#profiles")).ToContainTextAsync("Robin");
        await page.GetByLabel("Name").FillAsync("Kit");
        await page.GetByLabel("Kids profile").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Add the profile" }).ClickAsync();
        await Expect(page.Locator("#profiles li")).ToHaveCountAsync(2);
        await Expect(page.Locator("#profiles")).ToContainTextAsync("up to 12+");

        async Task PickAsync(string name)
        {
            await session.GoAsync("/profiles");
            await page.GetByRole(AriaRole.Button, new() { Name = name }).ClickAsync();
            await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/");
        }

        async Task SeesAsync(bool adultTitle)
        {
            var cards = page.Locator("main .cards");
            await session.GoAsync("/browse?kind=Film");
            await Expect(cards.GetByRole(AriaRole.Link, new() { Name = "Grimwater Lighthouse" })).ToBeVisibleAsync();
            await Expect(cards.GetByRole(AriaRole.Link, new() { Name = "Grimwater Nights" })).ToHaveCountAsync(adultTitle ? 1 : 0);

            await session.GoAsync("/search?q=grimwater");
            await Expect(cards.GetByRole(AriaRole.Link, new() { Name = "Grimwater Lighthouse" })).ToBeVisibleAsync();
            await Expect(cards.GetByRole(AriaRole.Link, new() { Name = "Grimwater Nights" })).ToHaveCountAsync(adultTitle ? 1 : 0);

            await session.GoAsync($"/title/{adult}");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Grimwater Nights", Level = 1 })).ToBeVisibleAsync();
            await Expect(page.Locator("#profile-limit")).ToHaveCountAsync(adultTitle ? 0 : 1);
            // No media yet: the grown-up gets the note that it cannot be played yet, the kids profile the refusal in its place.
            await Expect(page.GetByText("This title cannot be played yet")).ToHaveCountAsync(adultTitle ? 1 : 0);
        }

        await PickAsync("Kit (kids)");
        await SeesAsync(adultTitle: false);
        await Expect(page.Locator("#profile-limit")).ToContainTextAsync("rated 18+, above its limit of 12+");

        await PickAsync("Robin");
        await SeesAsync(adultTitle: true);
        session.AssertNoErrors();
    }
}
