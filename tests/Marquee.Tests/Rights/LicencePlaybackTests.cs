using System.Net;
using Marquee.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Marquee.Tests.Rights;

/// <summary>Licences enforced at playback through the real HTTP stack (<c>POST /api/playback/sessions</c>); SQLite and PostgreSQL.</summary>
public sealed class LicencePlaybackTests(HlsStub package) : IClassFixture<HlsStub>
{
    private static readonly DateTimeOffset Opens = new(2027, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Closes = new(2027, 9, 1, 0, 0, 0, TimeSpan.Zero);

    private static object Licence(Guid titleId, string[]? territories = null, string[]? platforms = null, bool exclusive = false,
        DateTimeOffset? starts = null, DateTimeOffset? ends = null, bool worldwide = false, string[]? excluded = null) => new
    {
        name = "Test licence",
        titleIds = new[] { titleId },
        startsAt = starts ?? Opens,
        endsAt = ends ?? Closes,
        platforms = string.Join(", ", platforms ?? ["Web"]),
        serviceModels = "Svod",
        worldwide,
        territories = worldwide ? null : territories ?? ["FR", "BE"],
        excludedTerritories = excluded,
        exclusive,
    };

    [Fact]
    public async Task Play_InsideTerritoryWindowAndPlatform_IsAllowed()
    {
        var time = new FakeTimeProvider(Opens.AddDays(10));
        await using var app = await RightsHost.StartAsync(package, time);
        var title = await app.CreateTitleAsync();
        await app.LicenceAsync(Licence(title));

        var response = await app.PlayAsync(title, "FR");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task Play_OutsideTerritory_IsRefusedNamingTheCountry()
    {
        var time = new FakeTimeProvider(Opens.AddDays(10));
        await using var app = await RightsHost.StartAsync(package, time);
        var title = await app.CreateTitleAsync();
        await app.LicenceAsync(Licence(title));

        Assert.Equal("This title is not available in your country (DE).", await (await app.PlayAsync(title, "DE")).RefusalAsync());
        // lower case from a proxy is the same country
        Assert.Equal(HttpStatusCode.Created, (await app.PlayAsync(title, "be")).StatusCode);
    }

    [Fact]
    public async Task Play_WorldwideWithExclusions_RefusesTheExcludedCountryOnly()
    {
        var time = new FakeTimeProvider(Opens.AddDays(10));
        await using var app = await RightsHost.StartAsync(package, time);
        var title = await app.CreateTitleAsync();
        await app.LicenceAsync(Licence(title, worldwide: true, excluded: ["US"]));

        Assert.Equal(HttpStatusCode.Created, (await app.PlayAsync(title, "JP")).StatusCode);
        Assert.Equal("This title is not available in your country (US).", await (await app.PlayAsync(title, "US")).RefusalAsync());
    }

    [Fact]
    public async Task Play_WhenCountryUnknown_IsRefusedForATerritoryLimitedLicence()
    {
        var time = new FakeTimeProvider(Opens.AddDays(10));
        await using var app = await RightsHost.StartAsync(package, time);
        var title = await app.CreateTitleAsync();
        await app.LicenceAsync(Licence(title));

        // Loopback has no country, and no header was sent.
        var reason = await (await app.PlayAsync(title)).RefusalAsync();

        Assert.Equal("This title is only available in some countries, and we could not tell which country you are in.", reason);
    }

    [Fact]
    public async Task Play_WhenCountryHeaderComesFromAnUntrustedPeer_IsIgnored()
    {
        var time = new FakeTimeProvider(Opens.AddDays(10));
        // No known proxies: nobody's country header is believed.
        await using var app = await RightsHost.StartAsync(package, time, c => c.Remove("Marquee:Web:KnownProxies:0"));
        var title = await app.CreateTitleAsync();
        await app.LicenceAsync(Licence(title));

        var reason = await (await app.PlayAsync(title, "FR")).RefusalAsync();

        Assert.Contains("could not tell which country", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Play_AtWindowBoundaries_OpensExactlyAtStartAndClosesExactlyAtEnd()
    {
        // One microsecond either side: PostgreSQL keeps timestamps to the microsecond, so a 100 ns tick is below what it can tell apart.
        var time = new FakeTimeProvider(Opens.AddMicroseconds(-1));
        await using var app = await RightsHost.StartAsync(package, time);
        var title = await app.CreateTitleAsync();
        await app.LicenceAsync(Licence(title));

        Assert.Equal("This title is available from 2027-03-01 00:00 UTC.", await (await app.PlayAsync(title, "FR")).RefusalAsync());

        time.SetUtcNow(Opens);
        Assert.Equal(HttpStatusCode.Created, (await app.PlayAsync(title, "FR")).StatusCode);

        time.SetUtcNow(Closes.AddMicroseconds(-1));
        Assert.Equal(HttpStatusCode.Created, (await app.PlayAsync(title, "FR")).StatusCode);

        time.SetUtcNow(Closes);
        Assert.Equal("This title is no longer available (since 2027-09-01 00:00 UTC).", await (await app.PlayAsync(title, "FR")).RefusalAsync());
    }

    [Fact]
    public async Task Play_WindowGivenInAnotherOffset_IsHeldInUtc()
    {
        // 02:00 at +02:00 is midnight UTC.
        var time = new FakeTimeProvider(Opens.AddSeconds(-1));
        await using var app = await RightsHost.StartAsync(package, time);
        var title = await app.CreateTitleAsync();
        await app.LicenceAsync(Licence(title, starts: new DateTimeOffset(2027, 3, 1, 2, 0, 0, TimeSpan.FromHours(2))));

        Assert.Equal(HttpStatusCode.Forbidden, (await app.PlayAsync(title, "FR")).StatusCode);
        time.SetUtcNow(Opens);
        Assert.Equal(HttpStatusCode.Created, (await app.PlayAsync(title, "FR")).StatusCode);
    }

    [Fact]
    public async Task Play_OnAnUnlicensedPlatform_IsRefused()
    {
        var time = new FakeTimeProvider(Opens.AddDays(10));
        await using var app = await RightsHost.StartAsync(package, time);
        var title = await app.CreateTitleAsync();
        await app.LicenceAsync(Licence(title, platforms: ["Mobile", "Tv"]));

        // Every browser request is the web platform.
        Assert.Equal("This title is not available on the web.", await (await app.PlayAsync(title, "FR")).RefusalAsync());
    }

    [Fact]
    public async Task Play_TitleWithoutLicence_PlaysByDefaultAndIsRefusedWhenLicencesAreRequired()
    {
        await using (var open = await RightsHost.StartAsync(package))
        {
            var title = await open.CreateTitleAsync();
            Assert.Equal(HttpStatusCode.Created, (await open.PlayAsync(title, "FR")).StatusCode);
        }

        await using var strict = await RightsHost.StartAsync(package, configure: c => c["Marquee:Rights:RequireLicence"] = "true");
        var other = await strict.CreateTitleAsync();
        Assert.Equal("This title is not licensed for streaming here.", await (await strict.PlayAsync(other, "FR")).RefusalAsync());
    }

    [Fact]
    public async Task CreateLicence_ExclusiveOverlappingAnotherExclusive_Answers409Problem()
    {
        await using var app = await RightsHost.StartAsync(package);
        var title = await app.CreateTitleAsync();
        await app.LicenceAsync(Licence(title, territories: ["FR"], exclusive: true));

        // Same title, overlapping country, platform and time: refused, and nothing written.
        var clash = await app.CreateLicenceAsync(Licence(title, territories: ["FR", "DE"], exclusive: true, starts: Closes.AddDays(-1), ends: Closes.AddYears(1)));
        Assert.Equal(HttpStatusCode.Conflict, clash.StatusCode);
        Assert.Equal("application/problem+json", clash.Content.Headers.ContentType?.MediaType);
        var worldwideClash = await app.CreateLicenceAsync(Licence(title, worldwide: true, excluded: ["DE"], exclusive: true));
        Assert.Equal(HttpStatusCode.Conflict, worldwideClash.StatusCode);

        // Each differing in one respect is fine.
        await app.LicenceAsync(Licence(title, territories: ["DE"], exclusive: true));
        await app.LicenceAsync(Licence(title, territories: ["FR"], platforms: ["Tv"], exclusive: true));
        await app.LicenceAsync(Licence(title, territories: ["FR"], exclusive: true, starts: Closes, ends: Closes.AddYears(1))); // [start, end): touching is not overlapping
        await app.LicenceAsync(Licence(title, territories: ["FR"], exclusive: false));
        await app.LicenceAsync(Licence(title, worldwide: true, excluded: ["FR", "DE"], exclusive: true));

        var list = await app.Client.GetStringAsync($"/api/rights/licences?titleId={title}");
        Assert.Equal(6, System.Text.Json.JsonDocument.Parse(list).RootElement.GetArrayLength());
    }

    [Theory]
    [InlineData("{\"name\":\"x\",\"titleIds\":[],\"startsAt\":\"2027-01-01T00:00:00Z\",\"endsAt\":\"2028-01-01T00:00:00Z\",\"platforms\":\"Web\",\"serviceModels\":\"Svod\",\"worldwide\":true}")]
    [InlineData("{\"name\":\"x\",\"titleIds\":[\"0b9f1c9e-6a43-4c8e-9e1d-3f1a2b3c4d5e\"],\"startsAt\":\"2028-01-01T00:00:00Z\",\"endsAt\":\"2027-01-01T00:00:00Z\",\"platforms\":\"Web\",\"serviceModels\":\"Svod\",\"worldwide\":true}")]
    [InlineData("{\"name\":\"x\",\"titleIds\":[\"0b9f1c9e-6a43-4c8e-9e1d-3f1a2b3c4d5e\"],\"startsAt\":\"2027-01-01T00:00:00Z\",\"endsAt\":\"2028-01-01T00:00:00Z\",\"platforms\":\"Web\",\"serviceModels\":\"Svod\",\"territories\":[\"XX1\"]}")]
    [InlineData("{\"name\":\"x\",\"titleIds\":[\"0b9f1c9e-6a43-4c8e-9e1d-3f1a2b3c4d5e\"],\"startsAt\":\"2027-01-01T00:00:00Z\",\"endsAt\":\"2028-01-01T00:00:00Z\",\"platforms\":\"Web\",\"serviceModels\":\"Svod\"}")]
    public async Task CreateLicence_WhenInvalid_Answers400Problem(string body)
    {
        await using var app = await RightsHost.StartAsync(package);

        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        var response = await app.Client.PostAsync("/api/rights/licences", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task CreateLicence_ForAnUnknownTitle_Answers400Problem()
    {
        await using var app = await RightsHost.StartAsync(package);

        var response = await app.CreateLicenceAsync(Licence(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
