using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Marquee.Catalog;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Catalog;

/// <summary>Catalog's console page: the titles table and the "new title" form.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class TitlesConsoleTests(BrowserFixture browser)
{
    [Fact]
    public async Task CreateTitle_WhenFormValid_AppearsInConsoleAndOnBrowse()
    {
        var name = $"Cosmos Laundromat {Guid.NewGuid().ToString("N")[..6]}";
        await using var session = await browser.OpenAsync();
        await session.GoAsync("/console/catalog");
        var form = session.Page.GetByRole(AriaRole.Region, new() { Name = "New title" });

        await form.GetByLabel("Name").FillAsync(name);
        await form.GetByLabel("Kind").SelectOptionAsync(new SelectOptionValue { Label = "Film" });
        await form.GetByLabel("Duration").FillAsync("12:10");
        await form.GetByLabel("Synopsis").FillAsync("A sheep on a desolate island meets a salesman.");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create title" }).ClickAsync();

        await Expect(session.Page).ToHaveURLAsync(new Regex(@"/console/catalog\?created="));
        await Expect(session.Page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Created {name}");
        await Expect(session.Page.GetByRole(AriaRole.Table).GetByRole(AriaRole.Link, new() { Name = name })).ToBeVisibleAsync();

        await session.GoAsync("/browse?kind=Film");
        await session.Page.Locator("main .cards").GetByRole(AriaRole.Link, new() { Name = name }).ClickAsync();
        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = name, Level = 1 })).ToBeVisibleAsync();
        await Expect(session.Page.Locator("dl.facts")).ToContainTextAsync("12 min 10 s");
        session.AssertNoErrors();
    }

    [Fact]
    public async Task CreateTitle_WhenNameAndKindMissing_ShowsMessagesAndCreatesNothing()
    {
        var before = await browser.App.ScopedAsync(sp => sp.GetRequiredService<Titles>().CountAsync(CancellationToken.None));
        await using var session = await browser.OpenAsync();
        await session.GoAsync("/console/catalog");
        var form = session.Page.GetByRole(AriaRole.Region, new() { Name = "New title" });

        await form.GetByLabel("Duration").FillAsync("soon");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create title" }).ClickAsync();

        var summary = session.Page.GetByRole(AriaRole.Alert);
        await Expect(summary).ToContainTextAsync("The title was not created");
        await Expect(summary).ToContainTextAsync("Enter the title's name.");
        await Expect(form.Locator("div.validation-message", new() { HasText = "Enter the title's name." })).ToBeVisibleAsync();
        await Expect(form.Locator("div.validation-message", new() { HasText = "Choose what kind of title this is." })).ToBeVisibleAsync();
        await Expect(form.Locator("div.validation-message", new() { HasText = "Write the duration as minutes" })).ToBeVisibleAsync();
        await Expect(form.GetByLabel("Name")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(form.GetByLabel("Duration")).ToHaveValueAsync("soon");
        var after = await browser.App.ScopedAsync(sp => sp.GetRequiredService<Titles>().CountAsync(CancellationToken.None));
        Assert.Equal(before, after);
        session.AssertNoErrors();
    }

    [Fact]
    public async Task EditDetails_FromTheTitlesTable_ShowOnThePublicPage()
    {
        var name = $"Spring {Guid.NewGuid().ToString("N")[..6]}";
        await using var session = await browser.OpenAsync();
        await session.GoAsync("/console/catalog");
        var form = session.Page.GetByRole(AriaRole.Region, new() { Name = "New title" });
        await form.GetByLabel("Name").FillAsync(name);
        await form.GetByLabel("Kind").SelectOptionAsync(new SelectOptionValue { Label = "Film" });
        await form.GetByRole(AriaRole.Button, new() { Name = "Create title" }).ClickAsync();
        await session.Page.GetByRole(AriaRole.Table).GetByRole(AriaRole.Link, new() { Name = name }).ClickAsync();

        await Expect(session.Page.GetByRole(AriaRole.Heading, new() { Name = name, Level = 1 })).ToBeVisibleAsync();
        await session.Page.GetByLabel("Genres").FillAsync("Fantasy, Drama");
        await session.Page.GetByLabel("Cast and crew").FillAsync("Andy Goralczyk | Director\nRik Schutte | Actor | Shaman");
        await session.Page.GetByLabel("Age ratings").FillAsync("*=0, FR=10");
        await session.Page.GetByLabel("Release date").FillAsync("2019-04-04");
        await session.Page.GetByRole(AriaRole.Button, new() { Name = "Save details" }).ClickAsync();

        await Expect(session.Page.GetByRole(AriaRole.Status)).ToContainTextAsync("Details saved.");
        await Expect(session.Page.GetByLabel("Genres")).ToHaveValueAsync("Drama, Fantasy");

        // A line that cannot be read is refused with its message, and nothing is saved.
        await session.Page.GetByLabel("Cast and crew").FillAsync("Andy Goralczyk | Juggler");
        await session.Page.GetByRole(AriaRole.Button, new() { Name = "Save details" }).ClickAsync();
        await Expect(session.Page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Credit “Andy Goralczyk | Juggler”");

        await session.Page.GetByRole(AriaRole.Link, new() { Name = "public page" }).ClickAsync();
        await Expect(session.Page.GetByRole(AriaRole.Link, new() { Name = "Rik Schutte" })).ToBeVisibleAsync();
        await Expect(session.Page.GetByText("4 April 2019")).ToBeVisibleAsync();
        await Expect(session.Page.GetByRole(AriaRole.Link, new() { Name = "Fantasy" })).ToBeVisibleAsync();
        session.AssertNoErrors();
    }
}
