using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Marquee.BrowserTests.Support;
using Marquee.Media.Contracts;
using Marquee.Platform.Web;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Microsoft.Playwright.Assertions;

namespace Marquee.BrowserTests.Delivery;

/// <summary>The watch page's audio and subtitle choices, on a title with two audio languages, source subtitles and uploaded ones.</summary>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class WatchTracksTests(BrowserFixture browser)
{
    private const string UploadedCue = "Hallo aus der Datei";

    private static readonly SemaphoreSlim Once = new(1, 1);
    private static Guid? title;

    /// <summary>The source of <see cref="TrackSources"/> (English and French audio, English subtitles) and an uploaded German .vtt with a cue from 2 s to 4 s.</summary>
    private async Task<Guid> TitleWithTracksAsync()
    {
        await Once.WaitAsync();
        try
        {
            return title ??= await MakeTitleWithTracksAsync();
        }
        finally
        {
            Once.Release();
        }
    }

    private async Task<Guid> MakeTitleWithTracksAsync()
    {
        var created = await (await browser.App.Client.PostAsJsonAsync("/api/catalog/titles", new { name = "Two Languages", kind = "Film" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var titleId = created.GetProperty("id").GetGuid();
        using var form = new MultipartFormDataContent();
        form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes($"WEBVTT\n\n00:00:02.000 --> 00:00:04.000\n{UploadedCue}\n")), "file", "de.vtt");
        form.Add(new StringContent("de"), "language");
        form.Add(new StringContent("Deutsch"), "label");
        var upload = await browser.App.Client.PostAsync($"/api/media/titles/{titleId}/subtitles", form);
        Assert.True(upload.IsSuccessStatusCode, await upload.Content.ReadAsStringAsync());

        var clip = await TrackSources.MakeAsync(Path.Combine(browser.App.DataDir, "watch-tracks.mkv"), seconds: 12);
        var package = await browser.App.ScopedAsync(async services =>
        {
            var ingest = services.GetRequiredService<IMediaIngest>();
            var queued = await ingest.IngestFileAsync(clip, titleId, new RequestActor("tests", null), CancellationToken.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            var status = await ingest.WaitAsync(queued.AssetId, null, timeout.Token);
            Assert.True(status.State == AssetState.Ready, $"{status.State}: {status.Reason}");
            return await services.GetRequiredService<IMediaPackages>().FindPlayableAsync(titleId, CancellationToken.None);
        });

        // The uploaded subtitles join the package when its publication is handled (an event).
        await Poll.UntilAsync(() => File.ReadAllTextAsync(Path.Combine(package!.Root, package.MasterPlaylist)),
            m => m.Contains("LANGUAGE=\"de\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the uploaded subtitles in the package");
        return titleId;
    }

    [Fact]
    public async Task Watch_WhenTitleHasTwoLanguagesAndSubtitles_SwitchesAudioAndShowsCuesOnTime()
    {
        var titleId = await TitleWithTracksAsync();
        await using var session = await browser.OpenAsync();
        var page = session.Page;

        await session.GoAsync($"/watch/{titleId}");
        await Expect(page.Locator("#player-status")).ToHaveTextAsync("Ready.", new() { Timeout = 30_000 });

        await Expect(page.Locator("#audio-track option")).ToHaveTextAsync(["English", "Version française"]);
        await Expect(page.Locator("#audio-track")).ToBeEnabledAsync();
        await Expect(page.Locator("#subtitle-track option")).ToHaveTextAsync(["Off", "English", "Deutsch"]);
        await Expect(page.Locator("#subtitle-track")).ToHaveValueAsync("-1");

        // Audio: the player switches to the French rendition.
        await page.EvaluateAsync("() => { const v = document.getElementById('player'); v.muted = true; return v.play(); }");
        await page.SelectOptionAsync("#audio-track", new[] { "1" });
        await page.WaitForFunctionAsync("() => document.getElementById('player').dataset.audioTrack === '1'", null, new() { Timeout = 30_000 });

        // Subtitles from the source: the cue is showing while it is due.
        await page.SelectOptionAsync("#subtitle-track", new[] { "0" });
        await page.WaitForFunctionAsync("() => document.getElementById('player').dataset.subtitleTrack === '0'", null, new() { Timeout = 15_000 });
        var sourceCue = await page.WaitForFunctionAsync(
            "() => [...document.getElementById('player').textTracks].filter(t => t.mode === 'showing').flatMap(t => [...(t.activeCues || [])]).map(c => c.text)[0]",
            null, new() { Timeout = 30_000 });
        Assert.Equal(TrackSources.SourceCue, await sourceCue.JsonValueAsync<string>());

        // The uploaded German subtitles: their cue (2 s to 4 s) is active exactly while the picture is between 2 and 4 s.
        await page.SelectOptionAsync("#subtitle-track", new[] { "1" });
        await page.WaitForFunctionAsync("() => document.getElementById('player').dataset.subtitleTrack === '1'", null, new() { Timeout = 15_000 });
        await page.EvaluateAsync("() => { const v = document.getElementById('player'); v.pause(); v.currentTime = 1.2; }");
        await page.EvaluateAsync("() => document.getElementById('player').play()");
        var shownAt = await page.WaitForFunctionAsync(
            $"() => {{ const v = document.getElementById('player'); const on = [...v.textTracks].filter(t => t.mode === 'showing').flatMap(t => [...(t.activeCues || [])]).some(c => c.text === '{UploadedCue}'); return on ? v.currentTime : false; }}",
            null, new() { Timeout = 30_000, PollingInterval = 50 });
        var at = await shownAt.JsonValueAsync<double>();
        Assert.InRange(at, 1.95, 2.6);
        var hiddenAt = await page.WaitForFunctionAsync(
            $"() => {{ const v = document.getElementById('player'); const on = [...v.textTracks].filter(t => t.mode === 'showing').flatMap(t => [...(t.activeCues || [])]).some(c => c.text === '{UploadedCue}'); return on ? false : v.currentTime; }}",
            null, new() { Timeout = 30_000, PollingInterval = 50 });
        Assert.InRange(await hiddenAt.JsonValueAsync<double>(), 3.95, 4.6);
        session.AssertNoErrors();
    }

    [Fact]
    public async Task Watch_WhenTitleHasAnIFramePlaylist_HlsJsIFramePlayerShowsAPictureFromIt()
    {
        var titleId = await TitleWithTracksAsync();
        await using var session = await browser.OpenAsync();
        var page = session.Page;
        await session.GoAsync($"/watch/{titleId}");
        await Expect(page.Locator("#player-status")).ToHaveTextAsync("Ready.", new() { Timeout = 30_000 });

        // A player of its own on the page (hls.js's I-frame player needs the main instance that parsed the master).
        var shown = await page.EvaluateAsync<JsonElement>("""
            async (titleId) => {
              const response = await fetch('/api/playback/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ titleId }) });
              const started = await response.json();
              const fail = (reject) => (_, d) => { if (d.fatal) reject(new Error(d.details)); };
              const main = new Hls();
              await new Promise((resolve, reject) => { main.on(Hls.Events.MANIFEST_PARSED, resolve); main.on(Hls.Events.ERROR, fail(reject)); main.loadSource(started.manifestUrl); });
              const variants = main.iframeVariants.length;
              const iframes = main.createIFramePlayer();
              const video = document.createElement('video');
              video.muted = true;
              document.body.append(video);
              await new Promise((resolve) => { iframes.on(Hls.Events.MEDIA_ATTACHED, resolve); iframes.attachMedia(video); });
              iframes.loadMediaAt(5);
              await new Promise((resolve, reject) => {
                iframes.on(Hls.Events.ERROR, fail(reject));
                const timer = setInterval(() => { if (video.readyState >= 2 && video.videoWidth > 0) { clearInterval(timer); resolve(); } }, 100);
                setTimeout(() => reject(new Error(`no picture: readyState ${video.readyState}`)), 20000);
              });
              return { variants, width: video.videoWidth, height: video.videoHeight, time: video.currentTime };
            }
            """, titleId.ToString());

        Assert.Equal(1, shown.GetProperty("variants").GetInt32());
        Assert.Equal(426, shown.GetProperty("width").GetInt32());
        Assert.Equal(240, shown.GetProperty("height").GetInt32());
        Assert.InRange(shown.GetProperty("time").GetDouble(), 3.9, 8.1);
        session.AssertNoErrors();
    }
}
