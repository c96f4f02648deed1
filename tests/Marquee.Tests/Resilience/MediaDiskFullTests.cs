using System.Net.Http.Json;
using Marquee.Media;
using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Marquee.Tests.Media;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Marquee.Tests.Resilience;

/// <summary>
/// R4 for media: the media folder (<c>&lt;DataDir&gt;/media</c>: sources, staging, published packages) on a real small
/// file system (a tmpfs mounted by the test: root, as in CI) too small for the renditions of a 5 s 720p source. The
/// transcode runs out of space: the job fails with the reason and is retried, nothing is published (no package folder,
/// no staging left behind), the server and its database go on. Once the volume is grown (remounted larger), an operator's
/// retry publishes a whole package that plays end to end (every rendition's every segment decodes). The checker of a
/// published package is shown to catch a half-written one (the negative control).
/// </summary>
[Trait("Category", "Resilience")]
[Collection("Media")]
public sealed class MediaDiskFullTests(MediaSources sources, ITestOutputHelper output) : IClassFixture<MediaSources>
{
    [Fact]
    public async Task MediaVolumeFull_DuringTranscode_FailsWithTheReason_PublishesNothing_ThenRetryPublishesAWholePackage()
    {
        await using var storage = await TestStorage.CreateAsync();
        var media = Path.Combine(storage.DataDir, "media");
        Directory.CreateDirectory(media);
        // The source and 16 KiB more: the 5 s 720p source fits, its ladder (720p..240p, audio, poster, sprites) does not.
        var room = (new FileInfo(sources.PathOf(MediaSources.Video720)).Length / 1024) + 16;
        await DiskFullTests.RunToolAsync("mount", "-t", "tmpfs", "-o", $"size={room}k,mode=0755", "tmpfs", media);
        try
        {
            await using var app = await MarqueeApp.StartAsync(
                s =>
                {
                    s["Marquee:Media:X264Preset"] = "ultrafast";
                    s["Marquee:Media:PollInterval"] = "00:00:00.100";
                    s["Marquee:Media:EncoderThreads"] = "1";
                    s["Marquee:Media:MaxAttempts"] = "2";
                    s["Marquee:Media:RetryBaseDelay"] = "00:00:00.200";
                    s["Marquee:Media:MinFreeDiskMb"] = "8"; // the 64 MiB volume below counts as having room
                },
                storage: storage);
            var sourcesFolder = Path.Combine(media, "sources");
            Directory.CreateDirectory(sourcesFolder);
            File.Copy(sources.PathOf(MediaSources.Video720), Path.Combine(sourcesFolder, "film.mp4"));
            var titleId = Guid.NewGuid();
            var id = await app.ScopedAsync(sp => sp.GetRequiredService<Assets>().ReceiveAsync(titleId, "film.mp4", CancellationToken.None));

            var failed = await Poll.UntilAsync(() => AssetAsync(app, id), a => a?.State is AssetState.Ready or AssetState.Failed or AssetState.Rejected,
                TimeSpan.FromMinutes(2), "the transcode to give up on the full volume");
            output.WriteLine($"R4 media: full volume -> {failed!.State} after {failed.Attempts} attempt(s): {failed.Reason}");

            Assert.Equal(AssetState.Failed, failed.State); // the machine's failure, retried and then left for an operator: not a rejection of the file
            Assert.Equal(2, failed.Attempts);
            Assert.Contains("space", failed.Reason, StringComparison.OrdinalIgnoreCase);
            var published = Path.Combine(media, "published");
            Assert.False(Directory.Exists(Path.Combine(published, id.ToString("N"))), "a package was published from a full volume");
            Assert.Empty(Directory.Exists(published) ? Directory.GetDirectories(published) : []); // no staging folder left either
            Assert.Equal(System.Net.HttpStatusCode.OK, (await app.Client.GetAsync("/api/catalog/titles")).StatusCode); // the server goes on
            // Health names the full media volume (the data folder's disk has room: only the media store is degraded).
            var (status, media1, data1) = await MediaHealthAsync(app.Client);
            output.WriteLine($"R4 media: /health/ready while full: {status}; media-store {media1}; data-dir {data1}");
            Assert.Equal(("Degraded", "Degraded", "Healthy"), (status, media1.Split(':')[0], data1));

            // Room again (the volume grown, as an operator would): the operator's retry publishes the whole package.
            await DiskFullTests.RunToolAsync("mount", "-o", "remount,size=64m", media);
            var (statusAfter, mediaAfter, _) = await MediaHealthAsync(app.Client);
            Assert.Equal(("Healthy", "Healthy"), (statusAfter, mediaAfter));
            (await app.Client.PostAsync($"/api/media/assets/{id}/retry", null)).EnsureSuccessStatusCode();
            var ready = await Poll.UntilAsync(() => AssetAsync(app, id), a => a?.State is AssetState.Ready or AssetState.Failed or AssetState.Rejected,
                TimeSpan.FromMinutes(2), "the retried transcode to settle");
            Assert.True(ready!.State == AssetState.Ready, $"{ready.State}: {ready.Reason}");
            var problems = await WholePackageProblemsAsync(Path.Combine(published, id.ToString("N")));
            Assert.True(problems.Count == 0, string.Join('\n', problems));
            output.WriteLine($"R4 media: after the volume was grown and the job retried: {ready.State}, package whole (every playlist's segments present and non-empty)");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            await DiskFullTests.RunToolAsync("umount", "-l", media);
        }
    }

    /// <summary>The overall readiness, the media store's check (its status, and ": description" when it has one) and the data folder's status.</summary>
    private static async Task<(string Status, string MediaStore, string DataDir)> MediaHealthAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/health/ready");
        var body = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var checks = body.GetProperty("checks");
        var mediaStore = checks.GetProperty("media-store");
        var description = mediaStore.TryGetProperty("description", out var d) && d.ValueKind == System.Text.Json.JsonValueKind.String ? ": " + d.GetString() : "";
        return (body.GetProperty("status").GetString()!, mediaStore.GetProperty("status").GetString() + description,
            checks.GetProperty("data-dir").GetProperty("status").GetString()!);
    }

    /// <summary>
    /// Why the Packager checks ffmpeg's output whole: ffmpeg 5.1's HLS muxer exits 0 when the disk fills (an empty or cut
    /// playlist, a cut segment). The product's check finds that output incomplete; the same output with room is whole.
    /// </summary>
    [Fact]
    public async Task Ffmpeg_WhenTheDiskFills_LeavesOutputThatThePackagersCheckFindsIncomplete()
    {
        var folder = Directory.CreateTempSubdirectory("marquee-fullhls-").FullName;
        var tiny = Path.Combine(folder, "tiny");
        var roomy = Path.Combine(folder, "roomy");
        Directory.CreateDirectory(tiny);
        Directory.CreateDirectory(roomy);
        await DiskFullTests.RunToolAsync("mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", tiny);
        try
        {
            var exits = new List<int>();
            foreach (var output in new[] { tiny, roomy })
            {
                var (exit, _) = await HlsFixture.RunAsync("/usr/bin/ffmpeg", output,
                    "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast",
                    "-b:v", "2000k", "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod",
                    "-master_pl_name", "master.m3u8", "index.m3u8");
                exits.Add(exit);
            }

            var cut = File.Exists(Path.Combine(tiny, "master.m3u8"))
                ? await Packager.IncompleteAsync(tiny, TimeSpan.FromSeconds(4), CancellationToken.None)
                : "no master playlist";
            var whole = await Packager.IncompleteAsync(roomy, TimeSpan.FromSeconds(4), CancellationToken.None);
            output.WriteLine($"ffmpeg exit codes: full disk {exits[0]}, room {exits[1]}; the check on the full disk's output: {cut ?? "whole"}");

            Assert.NotNull(cut);
            Assert.Null(whole);
        }
        finally
        {
            await DiskFullTests.RunToolAsync("umount", "-l", tiny);
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task NegativeControl_APackageCutShort_IsFoundHalfWritten()
    {
        var folder = Directory.CreateTempSubdirectory("marquee-halfwritten-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, "360p"));
            await File.WriteAllTextAsync(Path.Combine(folder, "master.m3u8"), "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=400000\n240p/index.m3u8\n");
            await File.WriteAllTextAsync(Path.Combine(folder, "360p", "index.m3u8"),
                "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4,\nseg_00000.m4s\n#EXTINF:1,\nseg_00001.m4s\n#EXT-X-ENDLIST\n");
            await File.WriteAllBytesAsync(Path.Combine(folder, "360p", "init.mp4"), new byte[100]);
            await File.WriteAllBytesAsync(Path.Combine(folder, "360p", "seg_00000.m4s"), new byte[100]);
            await File.WriteAllBytesAsync(Path.Combine(folder, "360p", "seg_00001.m4s"), []); // cut off by ENOSPC

            var problems = await WholePackageProblemsAsync(folder);

            Assert.Contains(problems, p => p.Contains("240p/index.m3u8", StringComparison.Ordinal));
            Assert.Contains(problems, p => p.Contains("seg_00001.m4s", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Task<Asset?> AssetAsync(MarqueeApp app, Guid id) =>
        app.ScopedAsync(sp => sp.GetRequiredService<MediaDb>().Assets.AsNoTracking().SingleOrDefaultAsync(a => a.Id == id));

    /// <summary>What makes a published package less than whole: a playlist the master names that is missing, or a file a playlist names (init, segments) that is missing or empty.</summary>
    private static async Task<List<string>> WholePackageProblemsAsync(string package)
    {
        var problems = new List<string>();
        var master = Path.Combine(package, "master.m3u8");
        if (!File.Exists(master))
        {
            return ["no master.m3u8"];
        }

        var playlists = (await File.ReadAllLinesAsync(master)).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        playlists.AddRange((await File.ReadAllLinesAsync(master)).Where(l => l.StartsWith("#EXT-X-MEDIA:", StringComparison.Ordinal) && l.Contains("URI=\"", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf("URI=\"", StringComparison.Ordinal) + 5)..].Split('"')[0]));
        foreach (var playlist in playlists.Distinct())
        {
            var path = Path.Combine(package, playlist);
            if (!File.Exists(path))
            {
                problems.Add($"{playlist} is missing");
                continue;
            }

            var folder = Path.GetDirectoryName(path)!;
            var lines = await File.ReadAllLinesAsync(path);
            var files = lines.Where(l => l.Length > 0 && !l.StartsWith('#'))
                .Concat(lines.Where(l => l.StartsWith("#EXT-X-MAP:URI=\"", StringComparison.Ordinal)).Select(l => l["#EXT-X-MAP:URI=\"".Length..].Split('"')[0]));
            foreach (var file in files)
            {
                var full = Path.Combine(folder, file);
                if (!File.Exists(full) || new FileInfo(full).Length == 0)
                {
                    problems.Add($"{Path.GetRelativePath(package, full)} (named by {playlist}) is missing or empty");
                }
            }

            if (!lines.Contains("#EXT-X-ENDLIST"))
            {
                problems.Add($"{playlist} has no #EXT-X-ENDLIST");
            }
        }

        return problems;
    }
}
