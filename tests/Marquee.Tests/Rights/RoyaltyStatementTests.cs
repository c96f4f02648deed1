using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Delivery.Contracts;
using Marquee.Platform.Events;
using Marquee.Rights.Contracts;
using Marquee.Rights.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Rights;

/// <summary>Royalty statements from fixture play and revenue events delivered through the real outbox, checked against hand-computed figures.</summary>
public sealed class RoyaltyStatementTests
{
    private static readonly DateTimeOffset April = new(2027, 4, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset May = new(2027, 5, 1, 0, 0, 0, TimeSpan.Zero);

    private static async Task<Guid> IdAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonSerializer.Deserialize<JsonElement>(body).GetProperty("id").GetGuid();
    }

    private static async Task<Guid> ContractAsync(MarqueeApp app, Guid provider, Guid title, object terms)
    {
        var contract = await IdAsync(await app.PostJsonAsync("/api/rights/contracts", new { providerId = provider, contract = terms }));
        await app.LicenceAsync(new
        {
            name = "Licence",
            titleIds = new[] { title },
            startsAt = April.AddYears(-1),
            endsAt = April.AddYears(1),
            platforms = "Web",
            serviceModels = "Svod, Tvod",
            worldwide = true,
            contractId = contract,
        });
        return contract;
    }

    private static IEnumerable<IDomainEvent> Session(Guid title, DateTimeOffset start, double minutes)
    {
        var id = Guid.NewGuid();
        yield return new PlaybackStarted(id, Guid.NewGuid(), Guid.NewGuid(), title, Guid.NewGuid(), ClientPlatform.Web, null, false, start);
        yield return new PlaybackEnded(id, Guid.NewGuid(), title, "stopped", minutes * 60, start.AddMinutes(minutes));
    }

    private static RevenueRecognised Revenue(decimal amount, DateTimeOffset at, Guid? title = null, string currency = "EUR") =>
        new(Guid.NewGuid(), at, amount, currency, title, title is null ? "subscriptions" : "rental");

    [Fact]
    public async Task Statement_RevenueShare_MatchesTheHandComputedExampleToTheCent()
    {
        await using var app = await MarqueeApp.StartAsync();
        var ours = await app.CreateTitleAsync("Our film");
        var theirs = await app.CreateTitleAsync("Someone else's film");
        var provider = await IdAsync(await app.PostJsonAsync("/api/rights/providers", new { name = "Studio", kind = "rights-holder" }));
        var share = await ContractAsync(app, provider, ours, new { name = "30% share", feeModel = "RevenueShare", currency = "EUR", paymentSchedule = "Monthly", revenueSharePercent = 30 });
        var guarantee = await ContractAsync(app, provider, ours, new { name = "MG", feeModel = "MinimumGuarantee", currency = "EUR", paymentSchedule = "Quarterly", revenueSharePercent = 30, minimumGuarantee = 100 });
        var perStream = await ContractAsync(app, provider, ours, new { name = "Per stream", feeModel = "PerStream", currency = "EUR", paymentSchedule = "Monthly", perStreamRate = 0.0125 });

        IDomainEvent[] events =
        [
            .. Session(ours, April.AddDays(2).AddHours(20), 90),
            .. Session(ours, April.AddDays(9).AddHours(21), 60),
            .. Session(theirs, April.AddDays(11), 250),
            .. Session(ours, April.AddHours(-1), 30), // started in March: not this period
            Revenue(600.00m, April.AddDays(1)),
            Revenue(400.00m, April.AddDays(15)),
            Revenue(3.99m, April.AddDays(4), ours),
            Revenue(3.96m, April.AddDays(5), ours),
            Revenue(4.99m, April.AddDays(6), theirs),
            Revenue(100.00m, April.AddDays(7), currency: "USD"),
            Revenue(500.00m, May), // next period
        ];
        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<RightsDb>();
            foreach (var e in events)
            {
                db.Publish(e);
            }

            return await db.SaveChangesAsync();
        });
        await Poll.UntilAsync(
            () => app.ScopedAsync(async sp =>
            {
                var db = sp.GetRequiredService<RightsDb>();
                return (await db.Usage.CountAsync(u => u.EndedAt != null), await db.Revenue.CountAsync());
            }),
            c => c == (4, 7), what: "the fixture events to be handled");

        // By hand: minutes 90 + 60 = 150 of 400; pooled 600 + 400 = 1000.00 EUR, of which 1000 × 150 / 400 = 375.00;
        // rentals 3.99 + 3.96 = 7.95; attributable 382.95; 30% = 114.885, rounded half to even: 114.88.
        var statement = await app.Client.GetFromJsonAsync<JsonElement>($"/api/rights/contracts/{share}/statement?from=2027-04-01T00:00:00Z&to=2027-05-01T00:00:00Z");
        var lines = statement.GetProperty("lines").EnumerateArray().ToDictionary(l => l.GetProperty("item").GetString()!, l => l.GetProperty("amount").GetDecimal());
        Assert.Equal(2m, lines["Streams of these titles"]);
        Assert.Equal(150m, lines["Minutes watched, these titles"]);
        Assert.Equal(400m, lines["Minutes watched, all titles"]);
        Assert.Equal(1000.00m, lines["Pooled revenue (subscriptions, ads)"]);
        Assert.Equal(375.00m, lines["Pooled revenue attributable"]);
        Assert.Equal(7.95m, lines["Direct revenue of these titles (rentals, purchases)"]);
        Assert.Equal(382.95m, lines["Revenue attributable"]);
        Assert.Equal(114.88m, lines["Royalty"]);
        Assert.Equal(114.88m, statement.GetProperty("payable").GetDecimal());
        Assert.Contains(statement.GetProperty("lines").EnumerateArray(), l => l.GetProperty("calculation").GetString() == "382.95 × 30%");
        Assert.Contains("Revenue in other currencies, not counted", lines.Keys);

        // Minimum guarantee 100: the first 100 of the 114.88 earned recoup the advance.
        var mg = await app.Client.GetFromJsonAsync<JsonElement>($"/api/rights/contracts/{guarantee}/statement?from=2027-04-01T00:00:00Z&to=2027-05-01T00:00:00Z");
        Assert.Equal(14.88m, mg.GetProperty("payable").GetDecimal());

        // 2 streams × 0.0125 = 0.025, rounded half to even: 0.02.
        var ps = await app.Client.GetFromJsonAsync<JsonElement>($"/api/rights/contracts/{perStream}/statement?from=2027-04-01T00:00:00Z&to=2027-05-01T00:00:00Z");
        Assert.Equal(0.02m, ps.GetProperty("payable").GetDecimal());

        var csv = await app.Client.GetAsync($"/api/rights/contracts/{share}/statement.csv?from=2027-04-01T00:00:00Z&to=2027-05-01T00:00:00Z");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var text = await csv.Content.ReadAsStringAsync();
        Assert.StartsWith("contract,period_from,period_to,item,calculation,amount,unit\r\n", text, StringComparison.Ordinal);
        Assert.Contains($"{share:D},2027-04-01T00:00:00Z,2027-05-01T00:00:00Z,\"Royalty\",\"382.95 × 30%\",114.88,EUR\r\n", text, StringComparison.Ordinal);

        var bad = await app.Client.GetAsync($"/api/rights/contracts/{share}/statement?from=2027-05-01T00:00:00Z&to=2027-04-01T00:00:00Z");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Client.GetAsync($"/api/rights/contracts/{Guid.NewGuid()}/statement?from=2027-04-01T00:00:00Z&to=2027-05-01T00:00:00Z")).StatusCode);
    }
}
