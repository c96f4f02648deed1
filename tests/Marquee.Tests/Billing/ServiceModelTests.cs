using System.Net;
using System.Net.Http.Json;
using Marquee.Billing;
using Marquee.Tests.Rights;
using Marquee.Tests.Support;

namespace Marquee.Tests.Billing;

/// <summary>
/// A licence's service models (SVOD, AVOD, TVOD) at playback: Billing plays a title only through a way the title's
/// licence in force grants (Rights' <c>ITitleServiceModels</c>) — a plan without ads under SVOD, a plan with ads or a free
/// title under AVOD, a rental or purchase under TVOD.
/// </summary>
public sealed class ServiceModelTests(HlsStub package) : IClassFixture<HlsStub>
{
    private static readonly DateTimeOffset Opens = TimeProvider.System.GetUtcNow().AddDays(-1);
    private static readonly DateTimeOffset Closes = TimeProvider.System.GetUtcNow().AddYears(1);

    private static object Licence(Guid titleId, string models) => new
    {
        name = $"{models} licence",
        titleIds = new[] { titleId },
        startsAt = Opens,
        endsAt = Closes,
        platforms = "Web",
        serviceModels = models,
        worldwide = true,
    };

    private static async Task<Guid> LicensedTitleAsync(MarqueeApp app, string models, string name)
    {
        var title = await app.CreateTitleAsync(name);
        await app.LicenceAsync(Licence(title, models));
        return title;
    }

    private static async Task<Viewer> SubscriberAsync(MarqueeApp app, string plan, bool free = false)
    {
        var viewer = await app.ViewerAsync();
        using var c = await viewer.ClientAsync();
        object body = free
            ? new { plan, currency = "EUR", country = "DE" }
            : new { plan, currency = "EUR", card = SandboxGateway.Success, country = "DE" };
        await (await c.PostKeyedAsync("/api/billing/checkout", body, $"sub-{viewer.Id}")).JsonAsync(HttpStatusCode.Created);
        return viewer;
    }

    private static async Task<Viewer> RenterAsync(MarqueeApp app, Guid title, string what = "rent")
    {
        var viewer = await app.ViewerAsync();
        using var c = await viewer.ClientAsync();
        await (await c.PostKeyedAsync($"/api/billing/titles/{title}/{what}", new { card = SandboxGateway.Success, country = "DE" }, $"{what}-{viewer.Id}"))
            .JsonAsync(HttpStatusCode.Created);
        return viewer;
    }

    [Fact]
    public async Task EachWayToPlay_NeedsItsServiceModelInTheLicence()
    {
        await using var app = await BillingHost.StartAsync(package);
        await app.CreatePlanAsync("premium", "Monthly", 999);
        using (var finance = await app.ClientWithRolesAsync("finance"))
        {
            (await finance.PostAsJsonAsync("/api/billing/plans", new
            {
                code = "adfree", name = "Free with ads", period = "Monthly", prices = new Dictionary<string, long> { ["EUR"] = 0 }, maxHeight = 720, streams = 2, withAds = true,
            })).EnsureSuccessStatusCode();
            (await finance.PostAsJsonAsync("/api/billing/plans", new
            {
                code = "lite", name = "Lite with ads", period = "Monthly", prices = new Dictionary<string, long> { ["EUR"] = 499 }, maxHeight = 720, streams = 2, withAds = true,
            })).EnsureSuccessStatusCode();
        }

        var tvodOnly = await LicensedTitleAsync(app, "Tvod", "Rent-only film");
        // Licensed (SVOD only) after a rental and a purchase of it were sold: checkout sells neither under an SVOD-only
        // licence (TvodCheckoutTests), but a licence entered or changed later still holds them to it at playback.
        var svodOnly = await app.CreateTitleAsync("Subscription-only film");
        var avodOnly = await LicensedTitleAsync(app, "Avod", "Ad-funded film");
        var freeButSvod = await LicensedTitleAsync(app, "Svod", "Free-marked film licensed for SVOD");
        var all = await LicensedTitleAsync(app, "Svod, Avod, Tvod", "Every-model film");
        using (var finance = await app.ClientWithRolesAsync("finance"))
        {
            foreach (var t in new[] { tvodOnly, svodOnly, all })
            {
                (await finance.PutAsJsonAsync($"/api/billing/titles/{t}/offer", new { free = false, currency = "EUR", rentalPrice = 399, purchasePrice = 1299 })).EnsureSuccessStatusCode();
            }

            (await finance.PutAsJsonAsync($"/api/billing/titles/{freeButSvod}/offer", new { free = true, currency = "EUR" })).EnsureSuccessStatusCode();
        }

        var renter = await RenterAsync(app, svodOnly);
        var buyer = await RenterAsync(app, svodOnly, "buy");
        await app.LicenceAsync(Licence(svodOnly, "Svod"));
        var subscriber = await SubscriberAsync(app, "premium");
        var adViewer = await SubscriberAsync(app, "adfree", free: true);
        var liteViewer = await SubscriberAsync(app, "lite");
        var nobody = await app.ViewerAsync();

        // TVOD only: a subscription does not play it; a rental and a purchase do.
        Assert.Equal("Here this title is only available to rent or buy.", await (await subscriber.PlayAsync(tvodOnly)).RefusalAsync());
        Assert.Equal(HttpStatusCode.Created, (await (await RenterAsync(app, tvodOnly)).PlayAsync(tvodOnly)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await (await RenterAsync(app, tvodOnly, "buy")).PlayAsync(tvodOnly)).StatusCode);

        // SVOD only: the paying subscriber plays without ads; the free plan with ads, a rental and a purchase do not.
        var session = await (await subscriber.PlayAsync(svodOnly)).JsonAsync(HttpStatusCode.Created);
        Assert.False(session.GetProperty("withAds").GetBoolean());
        using (var c = await subscriber.ClientAsync())
        {
            await c.DeleteAsync($"/api/playback/sessions/{session.GetProperty("sessionId").GetGuid()}");
        }

        Assert.True((await (await liteViewer.PlayAsync(svodOnly)).JsonAsync(HttpStatusCode.Created)).GetProperty("withAds").GetBoolean()); // a paid plan with ads is a subscription
        Assert.Equal("Here this title is only available with a subscription.", await (await adViewer.PlayAsync(svodOnly)).RefusalAsync());
        Assert.Equal("Here this title is only available with a subscription.", await (await renter.PlayAsync(svodOnly)).RefusalAsync());
        Assert.Equal("Here this title is only available with a subscription.", await (await buyer.PlayAsync(svodOnly)).RefusalAsync());

        // AVOD only: the plan with ads plays it with ads, and so does the paying subscriber (the licence allows only ad-funded showing).
        var withAds = await (await adViewer.PlayAsync(avodOnly)).JsonAsync(HttpStatusCode.Created);
        Assert.True(withAds.GetProperty("withAds").GetBoolean());
        var paidButAds = await (await subscriber.PlayAsync(avodOnly)).JsonAsync(HttpStatusCode.Created);
        Assert.True(paidButAds.GetProperty("withAds").GetBoolean());
        Assert.Equal(Entitlements.NeedsEntitlement, await (await nobody.PlayAsync(avodOnly)).RefusalAsync());
        using (var c = await subscriber.ClientAsync())
        {
            await c.DeleteAsync($"/api/playback/sessions/{paidButAds.GetProperty("sessionId").GetGuid()}");
        }

        // A title marked free whose licence grants only SVOD is not shown for free; a subscriber still plays it.
        Assert.Equal("Here this title is only available with a subscription.", await (await nobody.PlayAsync(freeButSvod)).RefusalAsync());
        Assert.Equal(HttpStatusCode.Created, (await subscriber.PlayAsync(freeButSvod)).StatusCode);

        // Every model: every way plays.
        Assert.Equal(HttpStatusCode.Created, (await (await RenterAsync(app, all)).PlayAsync(all)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await adViewer.PlayAsync(all)).StatusCode);
    }

    [Theory]
    [InlineData("Svod", "Here this title is only available with a subscription.")]
    [InlineData("Svod, Tvod", "Here this title is only available with a subscription or to rent or buy.")]
    [InlineData("Svod, Avod, Tvod", "Here this title is only available with a subscription or free with ads or to rent or buy.")]
    [Trait("Category", "ProviderFree")]
    public void OfferedOnly_NamesTheLicensedWays(string models, string expected) =>
        Assert.Equal(expected, Entitlements.OfferedOnly(Enum.Parse<Marquee.Rights.Contracts.ServiceModels>(models)));
}
