using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Support;

namespace Marquee.Tests.Catalog;

/// <summary>Catalogue search (Lucene.Net beside the database), on SQLite or PostgreSQL as the test run says.</summary>
public sealed class SearchTests
{
    [Fact]
    public async Task Search_FindsInterstellar_WithATypoAndByPrefix()
    {
        await using var app = await MarqueeApp.StartAsync();
        await app.CreateTitleAsync("Interstellar", details: CatalogApp.InterstellarDetails);
        await app.CreateTitleAsync("Inception");
        await app.CreateTitleAsync("The Interview");
        await app.CreateTitleAsync("Stellar Nights", "Track");

        var typo = await app.AnonymousClient.SearchAsync("Interstelar");
        Assert.Equal("Interstellar", typo[0]);
        Assert.DoesNotContain("Inception", typo);

        var prefix = await app.AnonymousClient.SearchAsync("inter");
        Assert.Contains("Interstellar", prefix);
        Assert.Contains("The Interview", prefix);
        Assert.DoesNotContain("Inception", prefix);

        // People (with a typo), tags, genres and other languages are searched too.
        Assert.Equal("Interstellar", (await app.AnonymousClient.SearchAsync("Christopher Nolen"))[0]);
        Assert.Equal(["Interstellar"], await app.AnonymousClient.SearchAsync("wormhole"));
        Assert.Equal(["Interstellar"], await app.AnonymousClient.SearchAsync("science fiction"));
        Assert.Equal(["Interstellar"], await app.AnonymousClient.SearchAsync("interstellaire"));
        Assert.Empty(await app.AnonymousClient.SearchAsync("zebra quartet"));
    }

    [Fact]
    public async Task Search_WithoutQuery_AnswersProblemDetails()
    {
        await using var app = await MarqueeApp.StartAsync();

        var response = await app.AnonymousClient.GetAsync("/api/catalog/search?q=%20");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Search_AfterTheIndexIsLostOrStale_IsRebuiltFromTheDatabaseAtStart()
    {
        await using var storage = await TestStorage.CreateAsync();
        await using (var first = await MarqueeApp.StartAsync(storage: storage))
        {
            await first.CreateTitleAsync("Interstellar");
            Assert.Equal(["Interstellar"], await first.AnonymousClient.SearchAsync("interstellar"));
        }

        var folder = Path.Combine(storage.DataDir, "search", "catalog");
        Assert.True(Directory.Exists(folder));
        Directory.Delete(folder, recursive: true);
        await using (var second = await MarqueeApp.StartAsync(storage: storage))
        {
            Assert.Equal(["Interstellar"], await second.AnonymousClient.SearchAsync("Interstelar"));
        }

        // A stale index (a title the index never saw, as after a crash between the commit and the index update): keep a
        // copy of the index, add a title, put the older copy back.

        var saved = folder + "-saved";
        CopyFolder(folder, saved);
        await using (var third = await MarqueeApp.StartAsync(storage: storage))
        {
            await third.CreateTitleAsync("Solaris");
        }

        Directory.Delete(folder, recursive: true);
        CopyFolder(saved, folder); // the index no longer knows Solaris: stale
        await using (var fourth = await MarqueeApp.StartAsync(storage: storage))
        {
            Assert.Equal(["Solaris"], await fourth.AnonymousClient.SearchAsync("solari"));
            Assert.Equal(["Interstellar"], await fourth.AnonymousClient.SearchAsync("interstellar"));
        }
    }

    [Fact]
    public async Task Search_HidesWhatTheViewerMayNotPlay()
    {
        await using var app = await MarqueeApp.StartAsync(c => c["Marquee:Web:KnownProxies:0"] = "127.0.0.1");
        var id = await app.CreateTitleAsync("Interstellar");
        var response = await app.PostJsonAsync("/api/rights/licences", new
        {
            name = "France only",
            titleIds = new[] { id },
            startsAt = "2000-01-01T00:00:00Z",
            endsAt = "2999-01-01T00:00:00Z",
            platforms = "Web",
            serviceModels = "Svod",
            territories = new[] { "FR" },
        });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());

        Assert.Equal(["Interstellar"], await app.AnonymousClient.SearchAsync("interstelar", country: "FR"));
        Assert.Empty(await app.AnonymousClient.SearchAsync("interstelar", country: "DE"));
        var inGermany = await GenreTitlesAsync(app, "DE");
        Assert.DoesNotContain(id, inGermany);
        Assert.Contains(id, await GenreTitlesAsync(app, "FR"));
    }

    [Fact]
    public async Task Demand_ListsSearchesThatFoundNothing()
    {
        await using var app = await MarqueeApp.StartAsync();
        await app.CreateTitleAsync("Interstellar", details: CatalogApp.InterstellarDetails);
        Assert.Empty(await app.AnonymousClient.SearchAsync("western duel"));
        Assert.Empty(await app.AnonymousClient.SearchAsync("Western  Duel"));
        Assert.NotEmpty(await app.AnonymousClient.SearchAsync("interstellar"));

        var report = await app.Client.GetFromJsonAsync<JsonElement>("/api/catalog/search/misses");
        var missed = report.GetProperty("missed").EnumerateArray().ToList();
        Assert.Single(missed);
        Assert.Equal("western duel", missed[0].GetProperty("query").GetString());
        Assert.Equal(2, missed[0].GetProperty("times").GetInt32());
        Assert.Contains(report.GetProperty("genresShort").EnumerateArray(), g => g.GetProperty("genre").GetString() == "western");

        var page = await app.Client.GetStringAsync("/console/catalog/demand");
        Assert.Contains("western duel", page);

        var viewer = await app.ClientWithRolesAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync("/api/catalog/search/misses")).StatusCode);
    }

    private static async Task<IReadOnlyList<Guid>> GenreTitlesAsync(MarqueeApp app, string country)
    {
        await app.Client.PutAsJsonAsync($"/api/catalog/titles/{(await app.AnonymousClient.GetFromJsonAsync<JsonElement[]>("/api/catalog/titles"))![0].GetProperty("id").GetGuid()}/details", new { genres = new[] { "Drama" } });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/catalog/genres/drama");
        request.Headers.Add("X-Marquee-Country", country);
        var response = await app.AnonymousClient.SendAsync(request);
        var items = await response.Content.ReadFromJsonAsync<JsonElement[]>();
        return [.. items!.Select(i => i.GetProperty("id").GetGuid())];
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
        }
    }
}
