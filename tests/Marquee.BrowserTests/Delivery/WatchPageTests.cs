using System.Net.Http.Json;
using System.Text.Json;
using Marquee.BrowserTests.Support;
using Marquee.Tests.Support;
using Marquee.Media.Contracts;
using Marquee.Platform.Web;
using Microsoft.Extensions.DependencyInjection;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Delivery;

/// <summary>The watch page plays a real encrypted HLS stream with hls.js in Chromium and switches renditions.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class WatchPageTests(BrowserFixture browser)
{
    private static readonly SemaphoreSlim Once = new(1, 1);
    private static Guid? film;

    /// <summary>A 720p film of 12 s made by ffmpeg, ingested and transcoded by the real pipeline (once per run).</summary>
    private async Task<Guid> PlayableFilmAsync()
    {
        await Once.WaitAsync();
        try
        {
            if (film is { } id)
            {
                return id;
            }

            var clip = await Tools.MakeClipAsync(Path.Combine(browser.App.DataDir, "watch-test.mp4"), 1280, 720, seconds: 12, frequency: 330);

            var created = await (await browser.App.Client.PostAsJsonAsync("/api/catalog/titles", new { name = "Test Card", kind = "Film" }))
                .Content.ReadFromJsonAsync<JsonElement>();
            var titleId = created.GetProperty("id").GetGuid();
            var status = await browser.App.ScopedAsync(async services =>
            {
                var ingest = services.GetRequiredService<IMediaIngest>();
                var queued = await ingest.IngestFileAsync(clip, titleId, new RequestActor("tests", null), CancellationToken.None);
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
                return await ingest.WaitAsync(queued.AssetId, null, timeout.Token);
            });
            Assert.True(status.State == AssetState.Ready, $"{status.State}: {status.Reason}");
            film = titleId;
            return titleId;
        }
        finally
        {
            Once.Release();
        }
    }

    [Fact]
    public async Task PlayFilm_WhenOpened_AdvancesPastThreeSecondsAndSwitchesRendition()
    {
        var titleId = await PlayableFilmAsync();
        await using var session = await browser.OpenAsync(signedIn: BrowserFixture.As.Viewer);
        var page = session.Page;

        await session.GoAsync($"/watch/{titleId}");
        await Expect(page.Locator("#player-status")).ToHaveTextAsync("Ready.", new() { Timeout = 30_000 });
        var qualities = await page.Locator("#quality option").CountAsync();
        Assert.True(qualities >= 3, $"only {qualities} quality choices"); // Auto + at least two renditions
        await page.EvaluateAsync("() => { const v = document.getElementById('player'); v.muted = true; return v.play(); }");

        await page.WaitForFunctionAsync("() => document.getElementById('player').currentTime > 3", null, new() { Timeout = 30_000 });

        var options = await page.Locator("#quality option").EvaluateAllAsync<string[]>("os => os.map(o => o.value)");
        var current = await page.Locator("#player").GetAttributeAsync("data-level");
        var other = options.First(v => v != "-1" && v != current);
        await page.SelectOptionAsync("#quality", other);
        await page.WaitForFunctionAsync($"() => document.getElementById('player').dataset.level === '{other}'", null, new() { Timeout = 30_000 });
        var height = await page.Locator("#player").GetAttributeAsync("data-height");
        Assert.NotEqual("0", height);
        session.AssertNoErrors();
    }

    [Fact]
    public async Task OpenWatch_WhenTitleHasNoMedia_SaysWhyInsteadOfPlaying()
    {
        var created = await (await browser.App.Client.PostAsJsonAsync("/api/catalog/titles", new { name = "Not Yet", kind = "Film" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        await using var session = await browser.OpenAsync();

        await session.GoAsync($"/watch/{created.GetProperty("id").GetGuid()}");

        await Expect(session.Page.Locator("#player-status")).ToContainTextAsync("cannot be played");
    }
}
