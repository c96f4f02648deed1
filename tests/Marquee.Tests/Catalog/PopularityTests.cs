using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Catalog;
using Marquee.Catalog.Data;
using Marquee.Delivery.Contracts;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Catalog;

public sealed class PopularityTests
{
    [Fact]
    public async Task Search_RanksTheMorePlayedOfEqualMatchesFirst()
    {
        await using var app = await MarqueeApp.StartAsync();
        await app.CreateTitleAsync("Star Harbour");
        var second = await app.CreateTitleAsync("Star Hollow");
        Assert.Equal(["Star Harbour", "Star Hollow"], await app.AnonymousClient.SearchAsync("star"));

        // Delivery's events, as fixtures: three sessions of the second title.
        var started = Enumerable.Range(0, 3).Select(_ => new PlaybackStarted(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), second, Guid.NewGuid(), ClientPlatform.Web, null, false, DateTimeOffset.UnixEpoch)).ToList();
        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<CatalogDb>();
            foreach (var e in started)
            {
                db.Publish(e);
            }

            return await db.SaveChangesAsync();
        });
        await Poll.UntilAsync(
            () => app.AnonymousClient.GetFromJsonAsync<JsonElement>($"/api/catalog/titles/{second}/details"),
            d => d.GetProperty("plays").GetInt64() == 3, what: "the plays to be counted");

        // The index catches up every 30 s; run it now rather than wait.
        await app.Services.GetRequiredService<CatalogSearch>().CatchUpAsync(CancellationToken.None);

        Assert.Equal(["Star Hollow", "Star Harbour"], await app.AnonymousClient.SearchAsync("star"));
    }
}
