using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Catalog.Contracts;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Catalog;

public sealed class TitleDetailsTests
{
    [Fact]
    public async Task SetDetails_StoresEverything_AndAgeRatingsAreReadThroughTheContract()
    {
        await using var app = await MarqueeApp.StartAsync();
        var id = await app.CreateTitleAsync("Interstellar", details: CatalogApp.InterstellarDetails);

        var details = await app.AnonymousClient.GetFromJsonAsync<JsonElement>($"/api/catalog/titles/{id}/details");
        Assert.Equal("2014-11-07", details.GetProperty("releaseDate").GetString());
        Assert.Equal(["Drama", "Science fiction"], details.GetProperty("genres").EnumerateArray().Select(g => g.GetProperty("name").GetString()));
        Assert.Equal("science-fiction", details.GetProperty("genres")[1].GetProperty("slug").GetString());
        Assert.Equal(["space", "wormhole"], details.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("Christopher Nolan", details.GetProperty("credits")[0].GetProperty("name").GetString());
        Assert.Equal("Cooper", details.GetProperty("credits")[1].GetProperty("character").GetString());
        Assert.Equal("Interstellaire", details.GetProperty("texts")[0].GetProperty("name").GetString());

        var (all, us, fr, unknown) = await app.ScopedAsync(async sp =>
        {
            var catalog = sp.GetRequiredService<ICatalog>();
            return (await catalog.AgeRatingsAsync(id, default), await catalog.MinimumAgeAsync(id, "us", default),
                await catalog.MinimumAgeAsync(id, "FR", default), await catalog.MinimumAgeAsync(Guid.NewGuid(), "FR", default));
        });
        Assert.Equal([new TitleAgeRating("*", 12), new TitleAgeRating("DE", 12), new TitleAgeRating("US", 13)], all);
        Assert.Equal(13, us);
        Assert.Equal(12, fr); // the * default
        Assert.Null(unknown);

        // The same person is one person across titles.
        var other = await app.CreateTitleAsync("Tenet", details: new { credits = new[] { new { name = "Christopher Nolan", role = "Director" } } });
        var tenet = await app.AnonymousClient.GetFromJsonAsync<JsonElement>($"/api/catalog/titles/{other}/details");
        Assert.Equal(details.GetProperty("credits")[0].GetProperty("personId").GetGuid(), tenet.GetProperty("credits")[0].GetProperty("personId").GetGuid());
    }

    [Fact]
    public async Task SetDetails_WhenInvalid_AnswersProblemDetailsAndChangesNothing()
    {
        await using var app = await MarqueeApp.StartAsync();
        var id = await app.CreateTitleAsync("Interstellar", details: CatalogApp.InterstellarDetails);

        var response = await app.Client.PutAsJsonAsync($"/api/catalog/titles/{id}/details", new
        {
            genres = new[] { "Drama" },
            ageRatings = new[] { new { territory = "Germany", minimumAge = 12 } },
            credits = new[] { new { name = "", role = "Director" } },
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("AgeRatings[0].Territory", out _), problem.ToString());
        Assert.True(problem.GetProperty("errors").TryGetProperty("Credits[0].Name", out _), problem.ToString());
        var details = await app.AnonymousClient.GetFromJsonAsync<JsonElement>($"/api/catalog/titles/{id}/details");
        Assert.Equal(2, details.GetProperty("genres").GetArrayLength());
    }

    [Fact]
    public async Task SetDetails_NeedsAContentOperator()
    {
        await using var app = await MarqueeApp.StartAsync();
        var id = await app.CreateTitleAsync("Interstellar");
        var viewer = await app.ClientWithRolesAsync();
        var content = await app.ClientWithRolesAsync("content");

        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PutAsJsonAsync($"/api/catalog/titles/{id}/details", new { genres = new[] { "Drama" } })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.AnonymousClient.PutAsJsonAsync($"/api/catalog/titles/{id}/details", new { genres = new[] { "Drama" } })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await content.PutAsJsonAsync($"/api/catalog/titles/{id}/details", new { genres = new[] { "Drama" } })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await content.PutAsJsonAsync($"/api/catalog/titles/{Guid.NewGuid()}/details", new { genres = new[] { "Drama" } })).StatusCode);
    }
}
