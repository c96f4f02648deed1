using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.Media;
using Marquee.Media.Contracts;
using Marquee.Tests.Delivery;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Marquee.Tests.Media;

/// <summary>The sprite plan and its WebVTT track, without ffmpeg.</summary>
public sealed partial class SpritePlanTests
{
    [Theory]
    [InlineData(5.0, 2.0, 3)]
    [InlineData(12.0, 2.0, 6)]
    [InlineData(120.0, 2.0, 60)]
    [InlineData(121.0, 5.0, 25)]
    [InlineData(600.0, 5.0, 120)]
    [InlineData(7200.0, 10.0, 720)]
    [InlineData(0.4, 2.0, 1)]
    public void For_WhenDurationGiven_ChoosesTheIntervalAndOneTilePerInterval(double duration, double interval, int tiles)
    {
        var plan = SpritePlan.For(duration);

        Assert.Equal(interval, plan.IntervalSeconds);
        Assert.Equal(tiles, plan.Tiles);
        Assert.Equal((tiles + 99) / 100, plan.Sheets);
    }

    [Theory]
    [InlineData(5.0)]
    [InlineData(201.5)]
    [InlineData(7200.0)]
    public void WebVtt_WhenWritten_CuesRunBackToBackFromZeroToTheEnd(double duration)
    {
        var plan = SpritePlan.For(duration);

        var cues = ParseCues(plan.WebVtt());

        Assert.Equal(plan.Tiles, cues.Count);
        Assert.Equal(0, cues[0].From);
        Assert.Equal(duration, cues[^1].To, 3);
        for (var i = 1; i < cues.Count; i++)
        {
            Assert.Equal(cues[i - 1].To, cues[i].From, 3);
            Assert.True(cues[i].To > cues[i].From);
        }
    }

    [Fact]
    public void WebVtt_WhenMoreThanOneSheet_NamesSheetAndTileRectangle()
    {
        var vtt = SpritePlan.For(7200).WebVtt();

        Assert.StartsWith("WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nsprite_0.jpg#xywh=0,0,160,90\n", vtt, StringComparison.Ordinal);
        Assert.Contains("\n00:00:10.000 --> 00:00:20.000\nsprite_0.jpg#xywh=160,0,160,90\n", vtt, StringComparison.Ordinal);
        Assert.Contains("\n00:16:30.000 --> 00:16:40.000\nsprite_0.jpg#xywh=1440,810,160,90\n", vtt, StringComparison.Ordinal); // tile 99
        Assert.Contains("\n00:16:40.000 --> 00:16:50.000\nsprite_1.jpg#xywh=0,0,160,90\n", vtt, StringComparison.Ordinal); // tile 100
        Assert.EndsWith("\n01:59:50.000 --> 02:00:00.000\nsprite_7.jpg#xywh=1440,90,160,90\n", vtt, StringComparison.Ordinal); // tile 719
    }

    [Fact]
    public void PlaylistSeconds_WhenMediaPlaylist_SumsItsSegments() =>
        Assert.Equal(9.04, ThumbnailSprites.PlaylistSeconds("#EXTM3U\n#EXTINF:4.000000,\na.m4s\n#EXTINF:4.000000,\nb.m4s\n#EXTINF:1.040000,\nc.m4s\n#EXT-X-ENDLIST\n"), 6);

    internal sealed record Cue(double From, double To, string Reference);

    /// <summary>A strict reading of the track: a WEBVTT header, then blocks of exactly one timing line and one reference line.</summary>
    internal static List<Cue> ParseCues(string vtt)
    {
        Assert.StartsWith("WEBVTT\n\n", vtt, StringComparison.Ordinal);
        var cues = new List<Cue>();
        foreach (var block in vtt["WEBVTT\n\n".Length..].TrimEnd('\n').Split("\n\n"))
        {
            var lines = block.Split('\n');
            Assert.Equal(2, lines.Length);
            var timing = Timing().Match(lines[0]);
            Assert.True(timing.Success, $"not a cue timing line: {lines[0]}");
            Assert.Matches(@"^sprite_\d+\.jpg#xywh=\d+,\d+,160,90$", lines[1]);
            cues.Add(new Cue(Seconds(timing.Groups[1].Value), Seconds(timing.Groups[2].Value), lines[1]));
        }

        return cues;
    }

    private static double Seconds(string stamp)
    {
        var p = stamp.Split(':');
        return (int.Parse(p[0], CultureInfo.InvariantCulture) * 3600) + (int.Parse(p[1], CultureInfo.InvariantCulture) * 60)
            + double.Parse(p[2], CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^(\d{2}:\d{2}:\d{2}\.\d{3}) --> (\d{2}:\d{2}:\d{2}\.\d{3})$")]
    private static partial Regex Timing();
}

/// <summary>The packager's sprite sheets and thumbnail track for a real 5 s 720p source, and how Delivery serves them.</summary>
[Trait("Category", "Media")]
[Collection("Media")]
public sealed class ThumbnailSpritesTests(PackagedVideo packaged) : IClassFixture<PackagedVideo>
{
    private readonly Guid titleId = Guid.NewGuid();

    private PackagedVideo Packaged => packaged;

    private string Folder => packaged.Result.Folder;

    [Fact]
    public async Task Package_WhenVideo_PublishesATrackWhoseCuesCoverTheWholeProgramme()
    {
        var cues = SpritePlanTests.ParseCues(await File.ReadAllTextAsync(Path.Combine(Folder, PackagedTitle.ThumbnailTrack)));

        var smallest = await File.ReadAllTextAsync(Path.Combine(Folder, "240p", "index.m3u8"));
        var duration = ThumbnailSprites.PlaylistSeconds(smallest);
        Assert.InRange(duration, 4.9, 5.2);
        Assert.Equal(3, cues.Count); // a tile every 2 s of 5 s
        Assert.Equal(0, cues[0].From);
        Assert.Equal(duration, cues[^1].To, 3);
        Assert.All(cues, c => Assert.StartsWith("sprite_0.jpg#xywh=", c.Reference, StringComparison.Ordinal));
        Assert.Equal(["sprite_0.jpg#xywh=0,0,160,90", "sprite_0.jpg#xywh=160,0,160,90", "sprite_0.jpg#xywh=320,0,160,90"], cues.Select(c => c.Reference));
    }

    [Fact]
    public async Task Package_WhenVideo_SpriteSheetIsAJpegGridOfTenByTenTiles()
    {
        var sheet = Path.Combine(Folder, "sprite_0.jpg");
        Assert.True(File.Exists(sheet));
        Assert.False(File.Exists(Path.Combine(Folder, "sprite_1.jpg")));

        var (exit, output, _) = await Tools.RunAsync("/usr/bin/ffprobe",
            ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", sheet]);

        Assert.Equal(0, exit);
        Assert.Equal("mjpeg,1600,900", output.Trim());
    }

    [Fact]
    public async Task Package_WhenVideo_TilesShowPictureAndTheUnusedOnesAreBlank()
    {
        // The first tile (testsrc2's colours) is far from black; tile 4 (past the third) is the tile filter's padding.
        var used = await MeanLumaAsync(Path.Combine(Folder, "sprite_0.jpg"), 320, 0);
        var unused = await MeanLumaAsync(Path.Combine(Folder, "sprite_0.jpg"), 480, 0);

        Assert.True(used > 40, $"tile 3 mean luma {used}");
        Assert.True(unused < 20, $"tile 4 mean luma {unused}");
    }

    [Fact]
    public async Task Delivery_WhenPackageHasThumbnails_SessionNamesTheTrackAndServesItAndItsSheetsThroughTheToken()
    {
        await using var app = await MarqueeApp.StartAsync(services: s => s.AddSingleton<IMediaPackages>(new Published(this)));
        var started = await app.PostJsonAsync("/api/playback/sessions", new { titleId });
        var json = JsonSerializer.Deserialize<JsonElement>(await started.Content.ReadAsStringAsync());
        var manifest = json.GetProperty("manifestUrl").GetString()!;
        var track = json.GetProperty("thumbnailsUrl").GetString()!;

        Assert.Equal(manifest[..(manifest.LastIndexOf('/') + 1)] + "thumbnails.vtt", track);
        var vtt = await app.Client.GetAsync(track);
        Assert.Equal(HttpStatusCode.OK, vtt.StatusCode);
        Assert.Equal("text/vtt", vtt.Content.Headers.ContentType?.MediaType);
        var cues = SpritePlanTests.ParseCues(await vtt.Content.ReadAsStringAsync());
        var sheetUrl = new Uri(new Uri(app.BaseAddress, track), cues[0].Reference.Split('#')[0]);
        var sheet = await app.Client.GetAsync(sheetUrl);
        Assert.Equal(HttpStatusCode.OK, sheet.StatusCode);
        Assert.Equal("image/jpeg", sheet.Content.Headers.ContentType?.MediaType);
        var bytes = await sheet.Content.ReadAsByteArrayAsync();
        Assert.Equal([0xFF, 0xD8, 0xFF], bytes[..3]);

        var session = new PlayerSession(json.GetProperty("sessionId").GetGuid(), manifest, "", DateTimeOffset.MinValue, null);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.Tampered(sheetUrl.AbsolutePath))).StatusCode);

        var heartbeat = await app.PostJsonAsync(json.GetProperty("heartbeatUrl").GetString()!, new { position = 1.0 });
        var renewed = JsonSerializer.Deserialize<JsonElement>(await heartbeat.Content.ReadAsStringAsync());
        Assert.EndsWith("/thumbnails.vtt", renewed.GetProperty("thumbnailsUrl").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Package_WhenAudioOnly_HasNoThumbnails()
    {
        var options = MediaSources.Options();
        var outcome = await new Probe(options).InspectAsync(packaged.Sources.Folder, MediaSources.AudioOnly, CancellationToken.None);
        var probed = outcome as MediaAccepted ?? throw new Xunit.Sdk.XunitException($"the probe refused the source: {outcome}");
        var result = await new Packager(new Transcoder(options), NullLogger<Packager>.Instance)
            .PackageAsync(Guid.NewGuid(), packaged.Sources.PathOf(MediaSources.AudioOnly), probed.Info, packaged.Root, HlsEncryption.NewKey(), null, CancellationToken.None);

        Assert.True(File.Exists(result.MasterPlaylist));
        Assert.False(File.Exists(Path.Combine(result.Folder, PackagedTitle.ThumbnailTrack)));
        Assert.Empty(Directory.GetFiles(result.Folder, "sprite_*.jpg"));
    }

    private static async Task<double> MeanLumaAsync(string sheet, int x, int y)
    {
        var (exit, output, error) = await Tools.RunAsync("/usr/bin/ffmpeg",
            ["-v", "error", "-i", sheet, "-vf", $"crop=160:90:{x}:{y},signalstats,metadata=mode=print:key=lavfi.signalstats.YAVG:file=-", "-f", "null", "-"]);
        Assert.True(exit == 0, error);
        var line = output.Split('\n').Single(l => l.StartsWith("lavfi.signalstats.YAVG=", StringComparison.Ordinal));
        return double.Parse(line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..], CultureInfo.InvariantCulture);
    }

    private sealed class Published(ThumbnailSpritesTests test) : IMediaPackages
    {
        public Task<PackagedTitle?> FindPlayableAsync(Guid titleId, CancellationToken cancellationToken) =>
            Task.FromResult(titleId == test.titleId
                ? new PackagedTitle(titleId, test.Packaged.AssetId, test.Folder, "master.m3u8", TimeSpan.FromSeconds(5),
                    File.Exists(Path.Combine(test.Folder, PackagedTitle.ThumbnailTrack)))
                : null);

        public Task<byte[]?> GetContentKeyAsync(Guid assetId, CancellationToken cancellationToken) =>
            Task.FromResult(assetId == test.Packaged.AssetId ? (byte[]?)test.Packaged.Key : null);
    }
}
