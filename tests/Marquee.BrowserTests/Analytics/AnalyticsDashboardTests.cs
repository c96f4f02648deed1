using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.BrowserTests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Analytics;

/// <summary>The analytics dashboard after a simulated audience: charts with data, the funnel, cohorts, and the live view moving.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class AnalyticsDashboardTests(BrowserFixture browser)
{
    [Fact]
    public async Task Dashboard_AfterSimulate_ShowsChartsWithData_AndTheLiveViewUpdates()
    {
        var simulated = await browser.App.Client.PostAsJsonAsync("/api/analytics/simulate", new { viewers = 40, days = 14, seed = 7 });
        Assert.True(simulated.IsSuccessStatusCode, await simulated.Content.ReadAsStringAsync());
        var accepted = (await simulated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetInt32();
        Assert.True(accepted > 500, $"only {accepted} events");
        // Until the pipeline has taken them in (the dashboard reads the warehouse).
        var deadline = TimeProvider.System.GetUtcNow().AddSeconds(60);
        while ((await browser.App.Client.GetFromJsonAsync<JsonElement>("/api/analytics/status")).GetProperty("pending").GetInt64() > 0)
        {
            Assert.True(TimeProvider.System.GetUtcNow() < deadline, "the analytics pipeline did not catch up");
            await Task.Delay(100);
        }

        await using var session = await browser.OpenAsync();
        var page = session.Page;
        await session.GoAsync("/console/analytics");
        await Expect(page.Locator("#charts[data-loaded=true]")).ToBeVisibleAsync();
        // The default choice: a chart (a canvas, not "no data yet") for time to start and completion rate.
        await Expect(page.Locator(".chart-card[data-metric='K6.time_to_start'] canvas")).ToBeVisibleAsync();
        await Expect(page.Locator(".chart-card[data-metric='K1.completion_rate'] canvas")).ToBeVisibleAsync();
        await Expect(page.Locator("#breakdown tbody tr").First).ToBeVisibleAsync();
        await Expect(page.Locator("#cohorts tbody tr").First).ToBeVisibleAsync();
        Assert.True(await page.Locator("#breakdown tbody tr").CountAsync() >= 10);
        await Expect(page.Locator("#live-state")).ToHaveTextAsync("live");

        // New events now: the live view shows the start within a push or two.
        var now = TimeProvider.System.GetUtcNow();
        var sessionId = $"live-{Guid.NewGuid():N}";
        var posted = await browser.App.AnonymousClient.PostAsJsonAsync("/api/analytics/events", new object[]
        {
            new { id = sessionId + "-1", type = "play_request", time = now.ToString("O", CultureInfo.InvariantCulture), user = "live-viewer", session = sessionId, title = Guid.NewGuid() },
            new { id = sessionId + "-2", type = "first_frame", time = now.ToString("O", CultureInfo.InvariantCulture), user = "live-viewer", session = sessionId, title = Guid.NewGuid(), ms = 800 },
            new { id = sessionId + "-3", type = "error", time = now.ToString("O", CultureInfo.InvariantCulture), user = "live-viewer", session = sessionId + "-b", code = "X" },
        });
        posted.EnsureSuccessStatusCode();
        await Expect(page.Locator("#live-starts")).Not.ToHaveTextAsync("0", new() { Timeout = 15_000 });
        await Expect(page.Locator("#live-starts")).Not.ToHaveTextAsync("–");
        await Expect(page.Locator("#live-viewers")).Not.ToHaveTextAsync("0");
        await Expect(page.Locator("#live-errors")).Not.ToHaveTextAsync("0");

        // Saved per operator: a choice survives a reload.
        await page.Locator("#grain").SelectOptionAsync("week");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save as my dashboard" }).ClickAsync();
        await Expect(page.Locator("#saved")).ToHaveTextAsync("Saved.");
        await session.GoAsync("/console/analytics");
        await Expect(page.Locator("#grain")).ToHaveValueAsync("week");
        session.AssertNoErrors();
    }
}
