using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Catalog.Contracts;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Catalog;

/// <summary>Albums and shows: titles with a collection name and a number, listed in order (SQLite, or PostgreSQL when configured).</summary>
public sealed class CollectionsApiTests
{
    [Fact]
    public async Task ListCollection_WhenTitlesAddedOutOfOrder_AnswersThemByNumberThenUnnumberedAsAdded()
    {
        await using var app = await MarqueeApp.StartAsync();
        await CreateAsync(app, new { name = "Third", kind = "Track", collection = "Test Signals", number = 3 });
        await CreateAsync(app, new { name = "Hidden Track", kind = "Track", collection = "Test Signals" });
        await CreateAsync(app, new { name = "First", kind = "Track", collection = "Test Signals", number = 1 });
        await CreateAsync(app, new { name = "Bonus", kind = "Track", collection = "Test Signals" });
        await CreateAsync(app, new { name = "Second", kind = "Track", collection = " Test Signals ", number = 2 }); // trimmed
        await CreateAsync(app, new { name = "Elsewhere", kind = "Track", collection = "Other Album", number = 1 });
        await CreateAsync(app, new { name = "Loose", kind = "Track" });

        var listed = await app.Client.GetFromJsonAsync<JsonElement[]>("/api/catalog/titles?collection=Test%20Signals");

        Assert.Equal(["First", "Second", "Third", "Hidden Track", "Bonus"], listed!.Select(t => t.GetProperty("name").GetString()));
        Assert.All(listed!, t => Assert.Equal("Test Signals", t.GetProperty("collection").GetString()));
        Assert.Equal([1, 2, 3], listed!.Take(3).Select(t => t.GetProperty("number").GetInt32()));
        Assert.Equal(JsonValueKind.Null, listed![3].GetProperty("number").ValueKind);
    }

    [Fact]
    public async Task ListCollection_WhenUnknownOrDifferentlyCased_AnswersEmpty()
    {
        await using var app = await MarqueeApp.StartAsync();
        await CreateAsync(app, new { name = "Episode 1", kind = "Podcast", collection = "Marquee Weekly", number = 1 });

        Assert.Empty((await app.Client.GetFromJsonAsync<JsonElement[]>("/api/catalog/titles?collection=Nobody"))!);
        Assert.Empty((await app.Client.GetFromJsonAsync<JsonElement[]>("/api/catalog/titles?collection=marquee%20weekly"))!);
        Assert.Single((await app.Client.GetFromJsonAsync<JsonElement[]>("/api/catalog/titles?collection=Marquee%20Weekly"))!);
    }

    [Fact]
    public async Task CreateTitle_WhenCollectionOrNumberOutOfBounds_Answers400AndCreatesNothing()
    {
        await using var app = await MarqueeApp.StartAsync();

        var zero = await app.PostJsonAsync("/api/catalog/titles", new { name = "Zero", kind = "Track", collection = "A", number = 0 });
        var longName = await app.PostJsonAsync("/api/catalog/titles", new { name = "Long", kind = "Track", collection = new string('x', 201), number = 1 });

        Assert.Equal(HttpStatusCode.BadRequest, zero.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, longName.StatusCode);
        var problem = await zero.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("number", out _) || problem.GetProperty("errors").TryGetProperty("Number", out _), problem.ToString());
        Assert.Empty((await app.Client.GetFromJsonAsync<JsonElement[]>("/api/catalog/titles"))!);
    }

    [Fact]
    public async Task Contract_WhenAnotherModuleCreatesADraftInACollection_ItIsListedThroughTheContract()
    {
        await using var app = await MarqueeApp.StartAsync();

        var listed = await app.ScopedAsync(async services =>
        {
            var catalog = services.GetRequiredService<ICatalog>();
            await catalog.CreateAsync(new TitleDraft("Episode 2", TitleKind.Podcast, Collection: "Show", Number: 2), Marquee.Platform.Web.RequestActor.System, CancellationToken.None);
            await catalog.CreateAsync(new TitleDraft("Episode 1", TitleKind.Podcast, Collection: "Show", Number: 1), Marquee.Platform.Web.RequestActor.System, CancellationToken.None);
            return await catalog.CollectionAsync("Show", CancellationToken.None);
        });

        Assert.Equal(["Episode 1", "Episode 2"], listed.Select(t => t.Name));
        Assert.Equal([1, 2], listed.Select(t => t.Number!.Value));
    }

    private static async Task CreateAsync(MarqueeApp app, object title)
    {
        var response = await app.PostJsonAsync("/api/catalog/titles", title);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }
}
