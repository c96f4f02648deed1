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
}
