using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.Billing;
using Marquee.Billing.Data;
using Marquee.Tests.Rights;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Billing;

/// <summary>
/// Checkout sells a rental or purchase (TVOD) only where a licence in force grants TVOD to this viewer now: Rights'
/// <c>ITitleServiceModels</c>, for the viewer's country as playback resolves it (the trusted country header from 127.0.0.1,
/// a known proxy here; none: unknown) and any platform. Refused with 409 problem details before anything is charged or
/// written; the rent page says the same sentence. Titles without any licence follow playback's rule
/// (<c>Marquee:Rights:RequireLicence</c>).
/// </summary>
public sealed partial class TvodCheckoutTests(HlsStub package) : IClassFixture<HlsStub>
{
    private static readonly DateTimeOffset Opens = TimeProvider.System.GetUtcNow().AddDays(-1);
    private static readonly DateTimeOffset Closes = TimeProvider.System.GetUtcNow().AddYears(1);

    private static object Licence(Guid titleId, string models, string platforms = "Web", string[]? territories = null) => new
    {
        name = $"{models} licence",
        titleIds = new[] { titleId },
        startsAt = Opens,
        endsAt = Closes,
        platforms,
        serviceModels = models,
        worldwide = territories is null,
        territories,
    };

    private static async Task<Guid> OfferedTitleAsync(MarqueeApp app, string name, object? licence = null)
    {
        var title = await app.CreateTitleAsync(name);
        if (licence is not null)
        {
            await app.LicenceAsync(licence is Func<Guid, object> make ? make(title) : licence);
        }

        using var finance = await app.ClientWithRolesAsync("finance");
        (await finance.PutAsJsonAsync($"/api/billing/titles/{title}/offer", new { free = false, currency = "EUR", rentalPrice = 399, purchasePrice = 1299 })).EnsureSuccessStatusCode();
        return title;
    }

    /// <summary>Rents or buys from <paramref name="from"/> (the trusted country header; null: no header, so the country is unknown).</summary>
    private static async Task<HttpResponseMessage> PayAsync(HttpClient client, Guid title, string what, string? from)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/billing/titles/{title}/{what}")
        {
            Content = JsonContent.Create(new { card = SandboxGateway.Success, country = "DE" }), // the billing country, for tax
        };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
        if (from is not null)
        {
            request.Headers.Add("X-Marquee-Country", from);
        }

        return await client.SendAsync(request);
    }

    private static async Task<string> RefusalAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Conflict, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonSerializer.Deserialize<JsonElement>(body);
        Assert.Equal(409, problem.GetProperty("status").GetInt32());
        return problem.GetProperty("detail").GetString()!;
    }

    private static Task<(int Charges, int Invoices, int Payments, int Grants)> LedgerAsync(MarqueeApp app) => app.ScopedAsync(async sp =>
    {
        var db = sp.GetRequiredService<BillingDb>();
        return (await db.SandboxCharges.CountAsync(), await db.Invoices.CountAsync(), await db.Payments.CountAsync(), await db.TitleGrants.CountAsync());
    });

    [Fact]
    public async Task RentOrBuy_WhereNoLicenceInForceGrantsTvod_IsRefusedBeforeCharging_ElsewhereSold()
    {
        await using var app = await BillingHost.StartAsync(package);
        var germanTvod = await OfferedTitleAsync(app, "Rentable in Germany on the web", (Func<Guid, object>)(t => Licence(t, "Tvod", "Web", ["DE"])));
        var svodOnly = await OfferedTitleAsync(app, "Subscription only", (Func<Guid, object>)(t => Licence(t, "Svod")));
        var tvOnlyTvod = await OfferedTitleAsync(app, "Rentable in Germany on TV apps", (Func<Guid, object>)(t => Licence(t, "Tvod", "Tv", ["DE"])));
        var unlicensed = await OfferedTitleAsync(app, "No licence yet");
        var viewer = await app.ViewerAsync();
        using var client = await viewer.ClientAsync();

        // Outside the territory, with the country unknown (loopback, no header), or under an SVOD-only licence: refused.
        Assert.Equal(TvodLicensing.RefusedInCountry, await RefusalAsync(await PayAsync(client, germanTvod, "rent", "FR")));
        Assert.Equal(TvodLicensing.RefusedInCountry, await RefusalAsync(await PayAsync(client, germanTvod, "buy", "FR")));
        Assert.Equal(TvodLicensing.RefusedUnknownCountry, await RefusalAsync(await PayAsync(client, germanTvod, "rent", null)));
        Assert.Equal(TvodLicensing.RefusedInCountry, await RefusalAsync(await PayAsync(client, svodOnly, "rent", "DE")));
        Assert.Equal(TvodLicensing.RefusedInCountry, await RefusalAsync(await PayAsync(client, svodOnly, "buy", "DE")));

        // Nothing charged at the sandbox gateway, no invoice, payment or rental written.
        Assert.Equal((0, 0, 0, 0), await LedgerAsync(app));

        // A TVOD licence in force for the viewer's country: sold (on any platform the licence names: TV apps only is enough).
        await (await PayAsync(client, germanTvod, "rent", "DE")).JsonAsync(HttpStatusCode.Created);
        await (await PayAsync(client, tvOnlyTvod, "buy", "DE")).JsonAsync(HttpStatusCode.Created);
        // No licence at all: sold, as playback plays it (Marquee:Rights:RequireLicence is off by default).
        await (await PayAsync(client, unlicensed, "rent", null)).JsonAsync(HttpStatusCode.Created);
        Assert.Equal((3, 3, 3, 3), await LedgerAsync(app));
    }

    [Fact]
    public async Task RentPage_WhereNoLicenceInForceGrantsTvod_SaysSo_AndItsFormChargesNothing()
    {
        await using var app = await BillingHost.StartAsync(package);
        var svodOnly = await OfferedTitleAsync(app, "Subscription only", (Func<Guid, object>)(t => Licence(t, "Svod")));
        var rentable = await OfferedTitleAsync(app, "Rentable everywhere", (Func<Guid, object>)(t => Licence(t, "Tvod")));
        var viewer = await app.ViewerAsync();
        // A browser on the pages: its own cookie jar (the antiforgery cookie is Secure; the jar sends it over loopback HTTP).
        using var client = new HttpClient(new Identity.AccountSecurityTests.CookieJar { InnerHandler = new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false } }
            .With(await app.SignInAsync(viewer.Email, viewer.Password))) { BaseAddress = app.BaseAddress };

        // Loaded: the sentence instead of the form.
        var refused = await PageAsync(client, HttpMethod.Get, $"/rent/{svodOnly}", "DE");
        Assert.Contains(TvodLicensing.RefusedInCountry, refused, StringComparison.Ordinal);
        Assert.DoesNotContain("purchase-pay", refused, StringComparison.Ordinal);
        var allowed = await PageAsync(client, HttpMethod.Get, $"/rent/{rentable}", "DE");
        Assert.Contains("purchase-pay", allowed, StringComparison.Ordinal);
        Assert.DoesNotContain(TvodLicensing.RefusedInCountry, allowed, StringComparison.Ordinal);

        // A form sent anyway (a page loaded before, from elsewhere): checkout refuses with the same sentence, nothing charged.
        var token = WebUtility.HtmlDecode(AntiforgeryField().Match(allowed).Groups[1].Value);
        var sent = await PageAsync(client, HttpMethod.Post, $"/buy/{svodOnly}", "DE", new Dictionary<string, string>
        {
            ["_handler"] = "purchase",
            ["__RequestVerificationToken"] = token,
            ["Input.Key"] = Guid.NewGuid().ToString("N"),
            ["Input.Country"] = "DE",
            ["Input.Card"] = SandboxGateway.Success,
        });
        Assert.Contains($"<div class=\"notice notice-error\" role=\"alert\" id=\"purchase-error\"><p>{TvodLicensing.RefusedInCountry}</p>", sent, StringComparison.Ordinal);
        Assert.DoesNotContain("purchase-done", sent, StringComparison.Ordinal);
        Assert.Equal((0, 0, 0, 0), await LedgerAsync(app));
    }

    [Fact]
    public async Task Rent_OfATitleWithoutAnyLicence_WhenLicencesAreRequired_IsRefusedLikePlayback()
    {
        await using var app = await BillingHost.StartAsync(package, configure: c => c["Marquee:Rights:RequireLicence"] = "true");
        var unlicensed = await OfferedTitleAsync(app, "No licence");
        var viewer = await app.ViewerAsync();
        using var client = await viewer.ClientAsync();

        Assert.Equal(TvodLicensing.RefusedInCountry, await RefusalAsync(await PayAsync(client, unlicensed, "rent", "DE")));
        Assert.Equal("This title is not licensed for streaming here.", await (await app.PlayAsync(unlicensed, "DE")).RefusalAsync()); // playback's own rule
        Assert.Equal((0, 0, 0, 0), await LedgerAsync(app));
    }

    private static async Task<string> PageAsync(HttpClient client, HttpMethod method, string path, string country, Dictionary<string, string>? form = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Marquee-Country", country);
        if (form is not null)
        {
            request.Content = new FormUrlEncodedContent(form);
        }

        using var response = await client.SendAsync(request);
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{method} {path}: {(int)response.StatusCode} {html[..Math.Min(html.Length, 500)]}");
        return WebUtility.HtmlDecode(html);
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
