using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Catalog.Contracts;
using Marquee.Delivery.Data;
using Marquee.Media.Contracts;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Identity;

/// <summary>Household profiles: limits, PINs, the active profile in playback, the maturity limit as a playback policy.</summary>
public sealed class ProfileTests
{
    private static readonly Guid AdultTitle = Guid.NewGuid();

    [Fact]
    public async Task Profiles_AtMostFiveOneKids_PinNeededToSelect_AndPlaybackKeyedByTheActiveProfile()
    {
        await using var app = await MarqueeApp.StartAsync(services: s =>
        {
            s.AddSingleton<IMediaPackages>(new Playable());
            s.AddSingleton<ITitleAgeRatings>(new Ratings());
        });
        var (_, cookie) = await AccountSecurityTests.ViewerAsync(app);
        var client = Fixed(app, cookie);

        var kids = await CreateAsync(client, new { name = "Kids", isKids = true });
        Assert.Equal(HttpStatusCode.Created, kids.StatusCode);
        var kidsBody = JsonDocument.Parse(await kids.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(12, kidsBody.GetProperty("maturityLimit").GetInt32());
        Assert.Equal(HttpStatusCode.BadRequest, (await CreateAsync(client, new { name = "Kids 2", isKids = true })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await CreateAsync(client, new { name = "Bad pin", pin = "12" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await CreateAsync(client, new { name = "Odd limit", maturityLimit = 13 })).StatusCode);
        var parent = await CreateAsync(client, new { name = "Parent", pin = "4321", language = "fr" });
        Assert.Equal(HttpStatusCode.Created, parent.StatusCode);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await CreateAsync(client, new { name = $"Guest {i}" })).StatusCode);
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await CreateAsync(client, new { name = "Sixth" })).StatusCode);
        var profiles = await client.GetFromJsonAsync<JsonElement>("/api/identity/profiles");
        Assert.Equal(5, profiles.GetArrayLength());
        Assert.True(profiles.EnumerateArray().Single(p => p.GetProperty("name").GetString() == "Parent").GetProperty("hasPin").GetBoolean());

        // The PIN guards the parent profile; another account cannot select it at all.
        var parentId = (await parent.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var kidsId = kidsBody.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsJsonAsync($"/api/identity/profiles/{parentId}/select", new { pin = "0000" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await (await app.ClientWithRolesAsync()).PostAsJsonAsync($"/api/identity/profiles/{parentId}/select", new { pin = "4321" })).StatusCode);

        // As the kids profile: the 16+ title is refused with the reason, a 7+ one plays and its session carries the profile.
        var asKids = await SelectAsync(app, client, kidsId, null);
        var refused = await asKids.PostAsJsonAsync("/api/playback/sessions", new { titleId = AdultTitle });
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("rated 16+", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        var family = Guid.NewGuid();
        var played = await asKids.PostAsJsonAsync("/api/playback/sessions", new { titleId = family });
        Assert.Equal(HttpStatusCode.Created, played.StatusCode);

        var asParent = await SelectAsync(app, client, parentId, "4321");
        Assert.Equal(HttpStatusCode.Created, (await asParent.PostAsJsonAsync("/api/playback/sessions", new { titleId = AdultTitle })).StatusCode);

        var keyed = await app.ScopedAsync(async sp => await sp.GetRequiredService<DeliveryDb>().Sessions.AsNoTracking()
            .Where(s => s.TitleId == family || s.TitleId == AdultTitle).Select(s => new { s.TitleId, s.ProfileId }).ToListAsync());
        Assert.Contains(keyed, k => k.TitleId == family && k.ProfileId == kidsId);
        Assert.Contains(keyed, k => k.TitleId == AdultTitle && k.ProfileId == parentId);

        // The session (device) stays the same one across profile switches.
        Assert.Single((await asParent.GetFromJsonAsync<JsonElement>("/api/identity/sessions")).EnumerateArray(), s => s.GetProperty("current").GetBoolean());
    }

    private static Task<HttpResponseMessage> CreateAsync(HttpClient client, object profile) => client.PostAsJsonAsync("/api/identity/profiles", profile);

    private static async Task<HttpClient> SelectAsync(MarqueeApp app, HttpClient client, Guid id, string? pin)
    {
        var selected = await client.PostAsJsonAsync($"/api/identity/profiles/{id}/select", new { pin });
        Assert.True(selected.StatusCode == HttpStatusCode.NoContent, $"{selected.StatusCode} {await selected.Content.ReadAsStringAsync()}");
        return Fixed(app, MarqueeApp.SessionCookie(selected));
    }

    /// <summary>A client that sends this cookie and keeps none (a renewed cookie is taken from the response explicitly).</summary>
    private static HttpClient Fixed(MarqueeApp app, string cookie)
    {
        var client = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = app.BaseAddress };
        client.DefaultRequestHeaders.Add("Cookie", cookie);
        return client;
    }

    private sealed class Ratings : ITitleAgeRatings
    {
        public Task<int?> MinimumAgeAsync(Guid titleId, string? country, CancellationToken cancellationToken) => Task.FromResult<int?>(titleId == AdultTitle ? 16 : 7);
    }

    private sealed class Playable : IMediaPackages
    {
        public Task<PackagedTitle?> FindPlayableAsync(Guid titleId, CancellationToken cancellationToken) =>
            Task.FromResult<PackagedTitle?>(new PackagedTitle(titleId, Guid.NewGuid(), Path.GetTempPath(), "none.m3u8", TimeSpan.FromMinutes(90)));

        public Task<byte[]?> GetContentKeyAsync(Guid assetId, CancellationToken cancellationToken) => Task.FromResult<byte[]?>(new byte[16]);
    }
}
