using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Catalog.Data;
using Marquee.Rights.Contracts;
using Marquee.Rights.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Catalog;

/// <summary>Content value (A1.3): expected views and revenue from the nearest titles, with the features that drove it.</summary>
public sealed class ContentValueTests
{
    private static object Details(string[] genres, string[] people) => new
    {
        genres,
        credits = people.Select(p => new { name = p, role = "Director" }).ToArray(),
    };

    [Fact]
    public async Task Estimate_IsTheSimilarityWeightedMeanOfNeighbours_WithRevenue_AndTheFeaturesThatDroveIt()
    {
        await using var app = await MarqueeApp.StartAsync();
        var spaceA = await app.CreateTitleAsync("Space Odyssey A", details: Details(["Science fiction", "Drama"], ["Christopher Nolan"]));
        var spaceB = await app.CreateTitleAsync("Space Odyssey B", details: Details(["Science fiction"], ["Christopher Nolan"]));
        var romcom = await app.CreateTitleAsync("Love in Paris", details: Details(["Comedy", "Romance"], ["Someone Else"]));
        var candidate = await app.CreateTitleAsync("New Space Film", details: Details(["Science fiction", "Drama"], ["Christopher Nolan"]));
        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<CatalogDb>();
            foreach (var (id, plays) in new[] { (spaceA, 100L), (spaceB, 50L), (romcom, 5L) })
            {
                await db.Titles.Where(t => t.Id == id).ExecuteUpdateAsync(s => s.SetProperty(t => t.Plays, plays));
            }

            var rights = sp.GetRequiredService<RightsDb>();
            rights.Publish(new RevenueRecognised(Guid.NewGuid(), TimeProvider.System.GetUtcNow(), 10.00m, "EUR", spaceA, "rental"));
            return await rights.SaveChangesAsync();
        });
        await Poll.UntilAsync(() => app.ScopedAsync(sp => sp.GetRequiredService<RightsDb>().Revenue.CountAsync()), c => c == 1, what: "the revenue event");

        var response = await app.Client.GetAsync($"/api/catalog/titles/{candidate}/value");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        var estimate = JsonSerializer.Deserialize<JsonElement>(body);

        // By hand: genres (0.4) and people (0.2) are the candidate's groups. A: both identical, similarity 1. B: genres 1/2, people 1:
        // (0.4 × 0.5 + 0.2) / 0.6 = 2/3. The romance shares nothing (left out). Mean ln(1 + views) of the three others m;
        // ln(1 + views) = (1 × ln 101 + 2/3 × ln 51 + 1 × m) / (1 + 2/3 + 1).
        var m = (Math.Log(101) + Math.Log(51) + Math.Log(6)) / 3;
        var expected = Math.Exp((Math.Log(101) + (2.0 / 3) * Math.Log(51) + m) / (1 + 2.0 / 3 + 1)) - 1;
        Assert.Equal(Math.Round(expected, 1), estimate.GetProperty("expectedViews").GetDouble(), 1);
        // Revenue: A earned 10.00 EUR, the others nothing; mean 10/3: (1 × 10 + 2/3 × 0 + 10/3) / (8/3) = 5.00.
        var revenue = estimate.GetProperty("expectedRevenue").EnumerateArray().Single();
        Assert.Equal("EUR", revenue.GetProperty("currency").GetString());
        Assert.Equal(5.00m, revenue.GetProperty("amount").GetDecimal());

        var neighbours = estimate.GetProperty("neighbours").EnumerateArray().ToList();
        Assert.Equal([spaceA, spaceB], neighbours.Select(n => n.GetProperty("id").GetGuid()).ToArray());
        Assert.Equal(0.667, neighbours[1].GetProperty("similarity").GetDouble(), 3);
        Assert.Equal(["drama", "science fiction"], neighbours[0].GetProperty("sharedGenres").EnumerateArray().Select(g => g.GetString()!).ToArray());
        var drivers = estimate.GetProperty("drivers").EnumerateArray().ToDictionary(d => d.GetProperty("feature").GetString()!, d => d.GetProperty("share").GetDouble());
        // Genres supplied 0.4/0.6 of A's similarity and 0.2/0.6 of B's; people 0.2/0.6 of each: (2/3 + 1/3) / (5/3) = 0.6 and 0.4.
        Assert.Equal(0.6, drivers["genres"], 3);
        Assert.Equal(0.4, drivers["people"], 3);

        // A candidate not in the catalogue yet, and the console page.
        var candidateOnly = await app.Client.PostAsJsonAsync("/api/catalog/value", new { genres = new[] { "Comedy" }, people = Array.Empty<string>() });
        var other = await candidateOnly.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(romcom, other.GetProperty("neighbours")[0].GetProperty("id").GetGuid());
        var page = await app.Client.GetStringAsync($"/console/catalog/value?title={candidate}");
        Assert.Contains("Space Odyssey A", page, StringComparison.Ordinal);
        Assert.Contains("data-driver=\"genres\"", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Client.GetAsync($"/api/catalog/titles/{Guid.NewGuid()}/value")).StatusCode);
    }
}
