using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Billing;
using Marquee.Billing.Contracts;
using Marquee.Tests.Rights;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Marquee.Tests.Billing;

/// <summary>Entitlements at playback (<c>Marquee:Billing:RequireEntitlement=true</c>): free titles, rentals, purchases, plan limits.</summary>
public sealed class EntitlementTests(HlsStub package) : IClassFixture<HlsStub>
{
    private static readonly DateTimeOffset Start = new(2027, 3, 1, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task FreeTitle_PlaysForAnyone_OthersNeedAnEntitlement()
    {
        await using var app = await BillingHost.StartAsync(package);
        var free = await app.CreateTitleAsync("Free film");
        var paid = await app.CreateTitleAsync("Paid film");
        using var finance = await app.ClientWithRolesAsync("finance");
        (await finance.PutAsJsonAsync($"/api/billing/titles/{free}/offer", new { free = true, currency = "EUR" })).EnsureSuccessStatusCode();
        var viewer = await app.ViewerAsync();

        Assert.Equal(HttpStatusCode.Created, (await viewer.PlayAsync(free)).StatusCode);
        var refused = await viewer.PlayAsync(paid);
        Assert.Equal(Entitlements.NeedsEntitlement, await refused.RefusalAsync());
    }

    [Fact]
    public async Task Rental_StartsItsFortyEightHoursAtFirstPlay_Purchase_Keeps()
    {
        var time = new FakeTimeProvider(Start);
        await using var app = await BillingHost.StartAsync(package, time);
        var film = await app.CreateTitleAsync("Rental film");
        using var finance = await app.ClientWithRolesAsync("finance");
        (await finance.PutAsJsonAsync($"/api/billing/titles/{film}/offer", new { free = false, currency = "EUR", rentalPrice = 399, purchasePrice = 1299 })).EnsureSuccessStatusCode();
        var renter = await app.ViewerAsync();
        var buyer = await app.ViewerAsync();
        using (var c = await renter.ClientAsync())
        {
            var rented = await (await c.PostKeyedAsync($"/api/billing/titles/{film}/rent", new { card = SandboxGateway.Success, country = "DE" }, "r")).JsonAsync(HttpStatusCode.Created);
            Assert.Equal(475, rented.GetProperty("amount").GetInt64()); // 399 + 19 % (75.81 -> 76)
        }

        using (var c = await buyer.ClientAsync())
        {
            await (await c.PostKeyedAsync($"/api/billing/titles/{film}/buy", new { card = SandboxGateway.Success, country = "DE" }, "b")).JsonAsync(HttpStatusCode.Created);
        }

        // Ten days later the rental is first played: its 48 hours start then, not at payment.
        time.Advance(TimeSpan.FromDays(10));
        Assert.Equal(HttpStatusCode.Created, (await renter.PlayAsync(film)).StatusCode);
        time.Advance(TimeSpan.FromHours(47));
        Assert.Equal(HttpStatusCode.Created, (await renter.PlayAsync(film)).StatusCode);
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal("Your rental of this title has ended.", await (await renter.PlayAsync(film)).RefusalAsync());

        time.Advance(TimeSpan.FromDays(200));
        Assert.Equal(HttpStatusCode.Created, (await buyer.PlayAsync(film)).StatusCode);

        var report = await app.ScopedAsync(sp => sp.GetRequiredService<LedgerVerifier>().VerifyAsync(CancellationToken.None));
        Assert.Empty(report.Problems);
        Assert.Equal(399 + 1299, report.Totals.Single(t => t.Account == "revenue").Balance);
    }

    [Fact]
    public async Task UnstartedRental_ExpiresAfterThirtyDays()
    {
        var time = new FakeTimeProvider(Start);
        await using var app = await BillingHost.StartAsync(package, time);
        var film = await app.CreateTitleAsync("Rental film");
        using var finance = await app.ClientWithRolesAsync("finance");
        (await finance.PutAsJsonAsync($"/api/billing/titles/{film}/offer", new { free = false, currency = "EUR", rentalPrice = 399 })).EnsureSuccessStatusCode();
        var renter = await app.ViewerAsync();
        using (var c = await renter.ClientAsync())
        {
            await (await c.PostKeyedAsync($"/api/billing/titles/{film}/rent", new { card = SandboxGateway.Success, country = "DE" }, "r")).JsonAsync(HttpStatusCode.Created);
        }

        time.Advance(TimeSpan.FromDays(30));
        Assert.Equal("Your rental of this title has ended.", await (await renter.PlayAsync(film)).RefusalAsync());
    }

    [Fact]
    public async Task Subscription_LimitsQualityAndStreams_AndThePlanContractAnswers()
    {
        await using var app = await BillingHost.StartAsync(package);
        await app.CreatePlanAsync("sd", "Monthly", 599, maxHeight: 480, streams: 1);
        var film = await app.CreateTitleAsync("Subscriber film");
        var viewer = await app.ViewerAsync();
        using var c = await viewer.ClientAsync();
        await (await c.PostKeyedAsync("/api/billing/checkout", new { plan = "sd", currency = "EUR", card = SandboxGateway.Success, country = "NL" }, "s")).JsonAsync(HttpStatusCode.Created);

        var limits = await app.ScopedAsync(sp => sp.GetRequiredService<IPlanLimits>().ForAccountAsync(viewer.Id, CancellationToken.None));
        Assert.Equal(new PlanLimits("sd", 480, 1), limits);

        var first = await (await c.PostAsJsonAsync("/api/playback/sessions", new { titleId = film })).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(480, first.GetProperty("maxHeight").GetInt32());
        var second = await c.PostAsJsonAsync("/api/playback/sessions", new { titleId = film });
        Assert.Contains("one screen at a time", await second.RefusalAsync(), StringComparison.Ordinal);
        _ = JsonSerializer.Serialize(first);
    }
}
