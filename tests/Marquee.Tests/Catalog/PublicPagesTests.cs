using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Marquee.Tests.Support;

namespace Marquee.Tests.Catalog;

/// <summary>Server-rendered title pages with schema.org JSON-LD, the sitemap, robots.txt, genre and search pages.</summary>
public sealed partial class PublicPagesTests
{
    [Fact]
    public async Task FilmPage_CarriesAVideoObjectWithTheRequiredProperties()
    {
        await using var app = await MarqueeApp.StartAsync();
        await app.CreateTitleAsync("Interstellar", details: CatalogApp.InterstellarDetails);

        var ld = await JsonLdAsync(app, "/title/interstellar");

        Assert.Equal("https://schema.org", ld.GetProperty("@context").GetString());
        Assert.Equal("VideoObject", ld.GetProperty("@type").GetString());
        Assert.Equal("Interstellar", ld.GetProperty("name").GetString());
        Assert.Equal("About Interstellar.", ld.GetProperty("description").GetString());
        var thumbnail = ld.GetProperty("thumbnailUrl")[0].GetString()!;
        Assert.StartsWith(app.BaseAddress.ToString().TrimEnd('/'), thumbnail);
        Assert.True(DateTimeOffset.TryParse(ld.GetProperty("uploadDate").GetString(), out _));
        Assert.Equal("PT10M", ld.GetProperty("duration").GetString());
        Assert.Equal("Christopher Nolan", ld.GetProperty("director")[0].GetProperty("name").GetString());
        Assert.Equal("2014-11-07", ld.GetProperty("datePublished").GetString());

        // The thumbnail is an image that answers.
        var poster = await app.AnonymousClient.GetAsync(new Uri(thumbnail).PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, poster.StatusCode);
        Assert.Equal("image/svg+xml", poster.Content.Headers.ContentType?.MediaType);

        // The French text is served on ?lang=fr.
        var french = await app.AnonymousClient.GetStringAsync("/title/interstellar?lang=fr");
        Assert.Contains("Interstellaire", french);
        Assert.Contains("Des explorateurs traversent un trou de ver.", french);
    }

    [Fact]
    public async Task TrackPage_CarriesAMusicRecording_AndPodcastPageAPodcastEpisode()
    {
        await using var app = await MarqueeApp.StartAsync();
        var response = await app.PostJsonAsync("/api/catalog/titles", new { name = "Blue Hour", kind = "Track", durationSeconds = 215, collection = "Night Album", number = 1 });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await app.Client.PutAsJsonAsync($"/api/catalog/titles/{id}/details", new { credits = new[] { new { name = "The Lanterns", role = "Artist" } } });
        await app.PostJsonAsync("/api/catalog/titles", new { name = "Show Talk 1", kind = "Podcast", durationSeconds = 1800, collection = "Show Talk", number = 1 });

        var track = await JsonLdAsync(app, "/title/blue-hour");
        Assert.Equal("MusicRecording", track.GetProperty("@type").GetString());
        Assert.Equal("Blue Hour", track.GetProperty("name").GetString());
        Assert.Equal("The Lanterns", track.GetProperty("byArtist").GetProperty("name").GetString());
        Assert.Equal("PT3M35S", track.GetProperty("duration").GetString());
        Assert.Equal("MusicAlbum", track.GetProperty("inAlbum").GetProperty("@type").GetString());
        Assert.Equal("Night Album", track.GetProperty("inAlbum").GetProperty("name").GetString());

        var podcast = await JsonLdAsync(app, "/title/show-talk-1");
        Assert.Equal("PodcastEpisode", podcast.GetProperty("@type").GetString());
        Assert.Equal("Show Talk", podcast.GetProperty("partOfSeries").GetProperty("name").GetString());
        Assert.Equal("PT30M", podcast.GetProperty("duration").GetString());
    }

    [Fact]
    public async Task Sitemap_ListsEveryTitlePage_AndRobotsPointsToIt()
    {
        await using var app = await MarqueeApp.StartAsync();
        await app.CreateTitleAsync("Interstellar", details: CatalogApp.InterstellarDetails);
        await app.CreateTitleAsync("Solaris");

        var response = await app.AnonymousClient.GetAsync("/sitemap.xml");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/xml", response.Content.Headers.ContentType?.MediaType);
        var xml = XDocument.Parse(await response.Content.ReadAsStringAsync());
        XNamespace sm = "http://www.sitemaps.org/schemas/sitemap/0.9";
        var locations = xml.Descendants(sm + "loc").Select(l => new Uri(l.Value).AbsolutePath).ToList();
        Assert.Contains("/title/interstellar", locations);
        Assert.Contains("/title/solaris", locations);
        Assert.Contains("/genres/science-fiction", locations);
        foreach (var path in locations)
        {
            Assert.Equal(HttpStatusCode.OK, (await app.AnonymousClient.GetAsync(path)).StatusCode);
        }

        var robots = await app.AnonymousClient.GetStringAsync("/robots.txt");
        Assert.Contains($"Sitemap: {app.BaseAddress.ToString().TrimEnd('/')}/sitemap.xml", robots);
        Assert.Contains("Disallow: /console", robots);
    }

    [Fact]
    public async Task GenreAndSearchPages_ListTheirTitles()
    {
        await using var app = await MarqueeApp.StartAsync();
        await app.CreateTitleAsync("Interstellar", details: CatalogApp.InterstellarDetails);
        await app.CreateTitleAsync("Solaris");

        var genre = await app.AnonymousClient.GetStringAsync("/genres/science-fiction");
        Assert.Contains("href=\"/title/interstellar\"", genre);
        Assert.DoesNotContain("href=\"/title/solaris\"", genre);
        Assert.Equal(HttpStatusCode.NotFound, (await app.AnonymousClient.GetAsync("/genres/no-such-genre")).StatusCode);

        var search = await app.AnonymousClient.GetStringAsync("/search?q=Interstelar");
        Assert.Contains("href=\"/title/interstellar\"", search);
        Assert.Contains("Nothing found", await app.AnonymousClient.GetStringAsync("/search?q=zebra"));
    }

    private static async Task<JsonElement> JsonLdAsync(MarqueeApp app, string path)
    {
        var html = await app.AnonymousClient.GetStringAsync(path);
        var scripts = JsonLdScript().Matches(html);
        Assert.Single(scripts);
        return JsonSerializer.Deserialize<JsonElement>(scripts[0].Groups[1].Value);
    }

    [GeneratedRegex("<script type=\"application/ld\\+json\">(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex JsonLdScript();
}
