using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Rights;
using Marquee.Rights.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Marquee.Tests.Rights;

/// <summary>Licences ending raise <c>LicenceExpiring</c> 30, 7 and 1 days ahead, once each, across restarts.</summary>
public sealed class ExpiryAlertTests(HlsStub package) : IClassFixture<HlsStub>
{
    private static readonly DateTimeOffset Start = new(2027, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Ends = new(2027, 6, 1, 0, 0, 0, TimeSpan.Zero);

    private static object Licence(Guid title, DateTimeOffset ends) => new
    {
        name = "Expiring licence",
        titleIds = new[] { title },
        startsAt = Start,
        endsAt = ends,
        platforms = "Web",
        serviceModels = "Svod",
        worldwide = true,
    };

    private static Task<int> CheckAsync(MarqueeApp app) =>
        app.ScopedAsync(sp => sp.GetRequiredService<ExpiryAlerts>().CheckAsync(CancellationToken.None));

    private static Task<int> EventsAsync(MarqueeApp app) =>
        app.ScopedAsync(sp => sp.GetRequiredService<RightsDb>().Outbox.CountAsync(m => m.EventName == "rights.licence-expiring.v1"));

    [Fact]
    public async Task Check_RaisesEachThresholdOnceAndNotAgainAfterARestart()
    {
        await using var storage = await TestStorage.CreateAsync();
        var time = new FakeTimeProvider(Ends.AddDays(-40));
        await using (var app = await RightsHost.StartAsync(package, time, storage: storage))
        {
            var title = await app.CreateTitleAsync();
            await app.LicenceAsync(Licence(title, Ends));

            Assert.Equal(0, await CheckAsync(app));
            time.SetUtcNow(Ends.AddDays(-30).AddSeconds(-1));
            Assert.Equal(0, await CheckAsync(app));
            time.SetUtcNow(Ends.AddDays(-30));
            Assert.Equal(1, await CheckAsync(app));
            Assert.Equal(0, await CheckAsync(app));
            time.SetUtcNow(Ends.AddDays(-7));
            Assert.Equal(1, await CheckAsync(app));
            time.SetUtcNow(Ends.AddHours(-20));
            Assert.Equal(1, await CheckAsync(app));
            Assert.Equal(3, await EventsAsync(app));
        }

        await using (var again = await RightsHost.StartAsync(package, time, storage: storage))
        {
            Assert.Equal(0, await CheckAsync(again));
            Assert.Equal(3, await EventsAsync(again));
            var alerts = await again.Client.GetFromJsonAsync<JsonElement>("/api/rights/alerts");
            Assert.Equal([1, 7, 30], alerts.EnumerateArray().Select(a => a.GetProperty("daysAhead").GetInt32()).Order());

            var page = await again.Client.GetStringAsync("/console/rights");
            Assert.Contains("Expiring licence", page, StringComparison.Ordinal);
            Assert.Contains("30 days ahead", page, StringComparison.Ordinal);
            Assert.Contains("1 day ahead", page, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Check_LicenceFirstSeenInsideSeveralThresholds_RaisesOnlyTheTightest()
    {
        var time = new FakeTimeProvider(Ends.AddDays(-5));
        await using var app = await RightsHost.StartAsync(package, time);
        var title = await app.CreateTitleAsync();
        await app.LicenceAsync(Licence(title, Ends));

        Assert.Equal(1, await CheckAsync(app));
        var alerts = await app.Client.GetFromJsonAsync<JsonElement>("/api/rights/alerts");
        Assert.Equal(7, alerts.EnumerateArray().Single().GetProperty("daysAhead").GetInt32());
        time.SetUtcNow(Ends); // ended: nothing more
        Assert.Equal(0, await CheckAsync(app));
    }

    [Fact]
    public async Task Worker_RaisesTheAlertOnItsOwn()
    {
        await using var app = await RightsHost.StartAsync(package, configure: c => c["Marquee:Rights:ExpiryCheckInterval"] = "00:00:00.200");
        var title = await app.CreateTitleAsync();
        var now = TimeProvider.System.GetUtcNow();
        await app.LicenceAsync(new
        {
            name = "Ends soon",
            titleIds = new[] { title },
            startsAt = now.AddDays(-1),
            endsAt = now.AddDays(20),
            platforms = "Web",
            serviceModels = "Svod",
            worldwide = true,
        });

        var alerts = await Poll.UntilAsync(
            () => app.Client.GetFromJsonAsync<JsonElement>("/api/rights/alerts"),
            a => a.GetArrayLength() > 0, what: "the worker's expiry alert");

        Assert.Equal(30, alerts.EnumerateArray().Single().GetProperty("daysAhead").GetInt32());
    }
}
