using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.BrowserTests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Media;

/// <summary>The asset library's faceted search in the console: each facet link narrows the files and the other facets' counts.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class AssetLibraryConsoleTests(BrowserFixture browser)
{
    private async Task AddAsync(Guid titleId, string kind, string fileName, string content, string tags)
    {
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(Encoding.UTF8.GetBytes(content)), "file", fileName },
            { new StringContent(kind), "kind" },
            { new StringContent(titleId.ToString()), "titleId" },
            { new StringContent(tags), "tags" },
        };
        var response = await browser.App.Client.PostAsync("/api/media/library", form);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task FacetLinks_NarrowTheFiles()
    {
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var tag = $"dub-{suffix}";
        var created = await browser.App.Client.PostAsJsonAsync("/api/catalog/titles", new { name = $"Library Film {suffix}", kind = "Film" });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var titleId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await AddAsync(titleId, "Script", "shooting-script.fountain", "INT. LIBRARY - NIGHT\n\nA quiet room.\n", "draft");
        await AddAsync(titleId, "Subtitle", "dub-en.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\nHello.\n", $"{tag},en");
        await AddAsync(titleId, "Subtitle", "dub-fr.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\nBonjour.\n", $"{tag},fr");

        await using var session = await browser.OpenAsync();
        var page = session.Page;
        var total = page.Locator(".library-results [role=status]");
        var rows = page.GetByRole(AriaRole.Region, new() { Name = "Library files" }).Locator("tbody tr");
        var facet = (string name) => page.Locator($".facet[data-facet={name}]");

        await session.GoAsync($"/console/media/library?title={titleId}");
        await Expect(total).ToHaveTextAsync("3 files");
        await Expect(facet("title").GetByRole(AriaRole.Link, new() { Name = $"Library Film {suffix}" })).ToHaveAttributeAsync("aria-current", "true");
        await Expect(facet("kind").Locator("li", new() { HasText = "Subtitle" }).Locator(".count")).ToHaveTextAsync("2");

        await facet("tag").GetByRole(AriaRole.Link, new() { Name = tag, Exact = true }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"tag={tag}"));
        await Expect(total).ToHaveTextAsync("2 files");
        await Expect(rows).ToHaveCountAsync(2);
        await Expect(facet("kind").Locator("li", new() { HasText = "Script" })).ToHaveCountAsync(0); // the script has not the tag

        await facet("tag").GetByRole(AriaRole.Link, new() { Name = "fr", Exact = true }).ClickAsync();
        await Expect(total).ToHaveTextAsync("1 file");
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(rows.First).ToContainTextAsync("dub-fr.vtt");

        await facet("tag").GetByRole(AriaRole.Link, new() { Name = "any tag" }).ClickAsync();
        await Expect(total).ToHaveTextAsync("3 files");
        session.AssertNoErrors();
    }
}
