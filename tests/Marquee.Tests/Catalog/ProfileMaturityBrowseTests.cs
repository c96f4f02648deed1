using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Identity;
using Marquee.Tests.Support;

namespace Marquee.Tests.Catalog;

/// <summary>
/// Browse, the home page, search (API and site) and title pages respect the active household profile's maturity limit
/// (Identity's IProfileMaturity against Catalog's age ratings), as playback already does.
/// </summary>
public sealed class ProfileMaturityBrowseTests
{
    [Fact]
    public async Task KidsProfile_DoesNotSeeAnAdultTitle_InBrowseHomeAndSearch_AnAdultProfileDoes()
    {
        await using var app = await MarqueeApp.StartAsync();
        await app.CreateTitleAsync("Nightcrawler Noir", details: new { ageRatings = new object[] { new { territory = "*", minimumAge = 18 } } });
        await app.CreateTitleAsync("Puffin Pals", details: new { ageRatings = new object[] { new { territory = "*", minimumAge = 0 } } });
        var (_, cookie) = await AccountSecurityTests.ViewerAsync(app);
        var account = Fixed(app, cookie);
        var kids = await ProfileAsync(account, new { name = "Kids", isKids = true });
        var adult = await ProfileAsync(account, new { name = "Grown-up" });

        // Before any profile is picked nothing limits the account.
        Assert.Contains("Nightcrawler Noir", await account.SearchAsync("nightcrawler"));

        var asKids = await SelectAsync(app, account, kids);
        Assert.Empty(await asKids.SearchAsync("nightcrawler"));
        Assert.Equal(["Puffin Pals"], await asKids.SearchAsync("puffin"));
        foreach (var page in new[] { "/browse", "/", "/search?q=nightcrawler" })
        {
            var html = await asKids.GetStringAsync(page);
            Assert.DoesNotContain("Nightcrawler Noir", html, StringComparison.Ordinal);
            Assert.Contains(page == "/search?q=nightcrawler" ? "nightcrawler" : "Puffin Pals", html, StringComparison.Ordinal);
        }

        var titlePage = await asKids.GetStringAsync("/title/nightcrawler-noir");
        Assert.Contains("Not available for this profile", titlePage, StringComparison.Ordinal);
        Assert.DoesNotContain("Not available for this profile", await asKids.GetStringAsync("/title/puffin-pals"), StringComparison.Ordinal);

        var asAdult = await SelectAsync(app, account, adult);
        Assert.Equal(["Nightcrawler Noir"], await asAdult.SearchAsync("nightcrawler"));
        Assert.Contains("Nightcrawler Noir", await asAdult.GetStringAsync("/browse"), StringComparison.Ordinal);
        Assert.Contains("Nightcrawler Noir", await asAdult.GetStringAsync("/search?q=nightcrawler"), StringComparison.Ordinal);
        Assert.DoesNotContain("Not available for this profile", await asAdult.GetStringAsync("/title/nightcrawler-noir"), StringComparison.Ordinal);
    }

    private static async Task<Guid> ProfileAsync(HttpClient client, object profile)
    {
        var created = await client.PostAsJsonAsync("/api/identity/profiles", profile);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private static async Task<HttpClient> SelectAsync(MarqueeApp app, HttpClient client, Guid id)
    {
        var selected = await client.PostAsJsonAsync($"/api/identity/profiles/{id}/select", new { pin = (string?)null });
        Assert.Equal(HttpStatusCode.NoContent, selected.StatusCode);
        return Fixed(app, MarqueeApp.SessionCookie(selected));
    }

    private static HttpClient Fixed(MarqueeApp app, string cookie)
    {
        var client = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = app.BaseAddress };
        client.DefaultRequestHeaders.Add("Cookie", cookie);
        return client;
    }
}
