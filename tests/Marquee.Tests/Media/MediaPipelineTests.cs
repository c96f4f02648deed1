using Marquee.Media;
using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Media;

/// <summary>The durable runner in the real host: received sources become Ready or Rejected; a crash mid-transcode is recovered.</summary>
[Trait("Category", "Media")]
[Collection("Media")]
public sealed class MediaPipelineTests(MediaSources sources) : IClassFixture<MediaSources>
{
    private static void FastMedia(IDictionary<string, string?> settings)
    {
        settings["Marquee:Media:X264Preset"] = "ultrafast";
        settings["Marquee:Media:PollInterval"] = "00:00:00.100";
        settings["Marquee:Media:EncoderThreads"] = "1";
    }

    private static string SourcesFolder(string dataDir)
    {
        var folder = Path.Combine(dataDir, "media", "sources");
        Directory.CreateDirectory(folder);
        return folder;
    }

    private static Task<Asset?> AssetAsync(MarqueeApp app, Guid id) =>
        app.ScopedAsync(sp => sp.GetRequiredService<MediaDb>().Assets.AsNoTracking().SingleOrDefaultAsync(a => a.Id == id));

    private static Task<Asset?> SettledAsync(MarqueeApp app, Guid id) =>
        Poll.UntilAsync(() => AssetAsync(app, id), a => a?.State is AssetState.Ready or AssetState.Rejected or AssetState.Failed,
            TimeSpan.FromSeconds(40), "the asset to settle");

    [Fact]
    public async Task Receive_WhenGoodSource_BecomesReadyEncryptedAndAnnounced()
    {
        await using var app = await MarqueeApp.StartAsync(FastMedia);
        File.Copy(sources.PathOf(MediaSources.Video720), Path.Combine(SourcesFolder(app.DataDir), "film.mp4"));
        var titleId = Guid.NewGuid();

        var id = await app.ScopedAsync(sp => sp.GetRequiredService<Assets>().ReceiveAsync(titleId, "film.mp4", CancellationToken.None));
        var asset = await SettledAsync(app, id);

        Assert.Equal(AssetState.Ready, asset!.State);
        Assert.Null(asset.Reason);
        Assert.InRange(asset.DurationMs!.Value, 4900, 5100);
        Assert.Contains("\"codec_name\": \"h264\"", asset.ProbeJson, StringComparison.Ordinal);
        var published = Path.Combine(app.DataDir, "media", "published", id.ToString("N"));
        Assert.True(File.Exists(Path.Combine(published, "master.m3u8")));
        Assert.Contains($"key://{id:N}", await File.ReadAllTextAsync(Path.Combine(published, "720p", "index.m3u8")), StringComparison.Ordinal);
        var key = await app.ScopedAsync(sp => sp.GetRequiredService<AssetKeys>().FindAsync(id, CancellationToken.None));
        Assert.Equal(16, key!.Length);
        var events = await app.ScopedAsync(sp => sp.GetRequiredService<MediaDb>().Outbox.Select(m => m.EventName).ToListAsync());
        Assert.Equal(["media.asset-ready.v1"], events);
    }

    [Fact]
    public async Task Receive_WhenNotMedia_IsRejectedWithAReasonAndGetsNoKey()
    {
        await using var app = await MarqueeApp.StartAsync(FastMedia);
        File.Copy(sources.PathOf(MediaSources.NotMedia), Path.Combine(SourcesFolder(app.DataDir), "notes.mp4"));

        var id = await app.ScopedAsync(sp => sp.GetRequiredService<Assets>().ReceiveAsync(Guid.NewGuid(), "notes.mp4", CancellationToken.None));
        var asset = await SettledAsync(app, id);

        Assert.Equal(AssetState.Rejected, asset!.State);
        Assert.StartsWith("Not a media file", asset.Reason, StringComparison.Ordinal);
        Assert.Null(await app.ScopedAsync(sp => sp.GetRequiredService<AssetKeys>().FindAsync(id, CancellationToken.None)));
        var events = await app.ScopedAsync(sp => sp.GetRequiredService<MediaDb>().Outbox.Select(m => m.EventName).ToListAsync());
        Assert.Equal(["media.asset-rejected.v1"], events);
    }

    [Fact]
    public async Task Start_WhenAnAssetWasLeftTranscodingByACrash_RequeuesItSweepsStagingAndFinishesIt()
    {
        await using var storage = await TestStorage.CreateAsync();
        File.Copy(sources.PathOf(MediaSources.Video720), Path.Combine(SourcesFolder(storage.DataDir), "film.mp4"));
        var id = Guid.NewGuid();
        var stale = Path.Combine(storage.DataDir, "media", "published", id.ToString("N") + ".staging");

        // The crash: a web-only host (no pipeline) leaves the row mid-transcode and a half-written staging folder.
        await using (var crashed = await MarqueeApp.StartAsync(s => { FastMedia(s); s["Marquee:Roles"] = "web"; }, storage: storage))
        {
            await crashed.ScopedAsync(async sp =>
            {
                var db = sp.GetRequiredService<MediaDb>();
                db.Assets.Add(new Asset { Id = id, TitleId = Guid.NewGuid(), SourcePath = "film.mp4", State = AssetState.Transcoding });
                return await db.SaveChangesAsync();
            });
            Directory.CreateDirectory(Path.Combine(stale, "720p"));
            await File.WriteAllTextAsync(Path.Combine(stale, "720p", "seg_00000.m4s"), "half");
        }

        await using var app = await MarqueeApp.StartAsync(FastMedia, storage: storage);
        var asset = await SettledAsync(app, id);

        Assert.Equal(AssetState.Ready, asset!.State);
        Assert.False(Directory.Exists(stale));
        Assert.True(File.Exists(Path.Combine(storage.DataDir, "media", "published", id.ToString("N"), "master.m3u8")));
    }

    [Fact]
    public async Task TwoWorkers_OnOneDatabase_DoNotStealALiveJob_AndACancelFromTheOtherStopsItWithNothingPublished()
    {
        await using var storage = await TestStorage.CreateAsync();
        await MediaSources.FfmpegAsync(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "90", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2",
            Path.Combine(SourcesFolder(storage.DataDir), "long.mp4")]); // long enough to outlast B's start on a loaded machine; cancelled before its end
        void Leased(IDictionary<string, string?> s)
        {
            FastMedia(s);
            s["Marquee:Media:LeaseDuration"] = "00:00:03";
            s["Marquee:Media:HeartbeatInterval"] = "00:00:00.200";
        }

        await using var a = await MarqueeApp.StartAsync(Leased, storage: storage);
        var id = await a.ScopedAsync(sp => sp.GetRequiredService<Assets>().ReceiveAsync(Guid.NewGuid(), "long.mp4", CancellationToken.None));
        var running = await Poll.UntilAsync(() => AssetAsync(a, id), x => x?.ProgressPercent > 0 || x?.State is AssetState.Ready or AssetState.Failed,
            TimeSpan.FromMinutes(2), "the transcode to report progress");
        Assert.Equal(AssetState.Transcoding, running!.State);
        var workerA = a.Services.GetRequiredService<MediaPipeline>().WorkerId;
        Assert.Equal(workerA, running.LeaseOwner);
        var staging = Path.Combine(storage.DataDir, "media", "published", id.ToString("N") + ".staging");
        Assert.True(Directory.Exists(staging));

        // A second worker process on the same database and data folder: its recovery (at start, and asked again here) leaves A's job alone.
        await using var b = await MarqueeApp.StartAsync(Leased, storage: storage);
        Assert.Equal(0, await b.Services.GetRequiredService<MediaPipeline>().RecoverAsync(CancellationToken.None));
        var later = await Poll.UntilAsync(() => AssetAsync(b, id), x => x!.ProgressAt > running.ProgressAt, TimeSpan.FromSeconds(20), "A's next heartbeat");
        Assert.Equal((AssetState.Transcoding, workerA, 1), (later!.State, later.LeaseOwner, later.Attempts));
        Assert.True(Directory.Exists(staging), "B's recovery deleted A's live staging folder");

        // Cancelled through B's API: A's heartbeat sees it, kills ffmpeg and deletes the staging folder; nothing is published.
        var cancel = await b.Client.PostAsync($"/api/media/assets/{id}/cancel", null);
        Assert.Equal(System.Net.HttpStatusCode.OK, cancel.StatusCode);
        var cancelled = await Poll.UntilAsync(() => AssetAsync(b, id), x => x!.State is not (AssetState.Transcoding or AssetState.Probing),
            TimeSpan.FromSeconds(30), "A to notice the cancel");
        Assert.Equal(AssetState.Cancelled, cancelled!.State);
        Assert.Null(cancelled.LeaseOwner);
        Assert.False(Directory.Exists(staging));
        Assert.False(Directory.Exists(Path.Combine(storage.DataDir, "media", "published", id.ToString("N"))));
    }
}
