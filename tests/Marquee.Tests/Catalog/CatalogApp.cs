using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Support;

namespace Marquee.Tests.Catalog;

internal static class CatalogApp
{
    public static async Task<Guid> CreateTitleAsync(this MarqueeApp app, string name, string kind = "Film", object? details = null)
    {
        var response = await app.PostJsonAsync("/api/catalog/titles", new { name, kind, synopsis = $"About {name}.", durationSeconds = 600 });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        if (details is not null)
        {
            var put = await app.Client.PutAsJsonAsync($"/api/catalog/titles/{id}/details", details);
            Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
        }

        return id;
    }

    public static async Task<IReadOnlyList<string>> SearchAsync(this HttpClient client, string q, string? country = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/catalog/search?q={Uri.EscapeDataString(q)}");
        if (country is not null)
        {
            request.Headers.Add("X-Marquee-Country", country);
        }

        var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        var json = JsonSerializer.Deserialize<JsonElement>(body);
        return [.. json.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("title").GetProperty("name").GetString()!)];
    }

    public static readonly object InterstellarDetails = new
    {
        releaseDate = "2014-11-07",
        genres = new[] { "Science fiction", "Drama" },
        tags = new[] { "space", "wormhole" },
        credits = new object[] { new { name = "Christopher Nolan", role = "Director" }, new { name = "Matthew McConaughey", role = "Actor", character = "Cooper" } },
        texts = new object[] { new { language = "fr", name = "Interstellaire", synopsis = "Des explorateurs traversent un trou de ver." } },
        ageRatings = new object[] { new { territory = "*", minimumAge = 12 }, new { territory = "DE", minimumAge = 12 }, new { territory = "US", minimumAge = 13 } },
    };
}
