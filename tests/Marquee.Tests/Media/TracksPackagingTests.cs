using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Marquee.Media;
using Marquee.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Marquee.Tests.Media;

/// <summary>A source with two audio languages and English subtitles, packaged once by the real Packager.</summary>
public sealed class PackagedTracks : IAsyncLifetime
{
    public MediaSources Sources { get; } = new();

    public Guid AssetId { get; } = Guid.NewGuid();

    public byte[] Key { get; } = HlsEncryption.NewKey();

    internal PackagedAsset Result { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Sources.InitializeAsync();
        await TrackSources.MakeAsync(Sources.PathOf("tracks.mkv"));
        var options = MediaSources.Options();
        var probed = MediaSources.Accepted(await new Probe(options).InspectAsync(Sources.Folder, "tracks.mkv", CancellationToken.None));
        Result = await new Packager(new Transcoder(options), NullLogger<Packager>.Instance).PackageAsync(AssetId, Sources.PathOf("tracks.mkv"), probed.Info,
            Path.Combine(Sources.Folder, "published"), Key, null, CancellationToken.None);
    }

    public Task DisposeAsync() => Sources.DisposeAsync();
}

[Trait("Category", "Media")]
[Collection("Media")]
public sealed class TracksPackagingTests(PackagedTracks packaged) : IClassFixture<PackagedTracks>
{
    [Fact]
    public async Task Package_WhenTwoAudioLanguages_MasterHasOneNamedRenditionEachAndNoAudioOnlyVariant()
    {
        var master = await File.ReadAllTextAsync(packaged.Result.MasterPlaylist);

        var audio = master.Split('\n').Where(l => l.StartsWith("#EXT-X-MEDIA:TYPE=AUDIO", StringComparison.Ordinal)).ToList();
        Assert.Equal(
            ["#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_audio\",LANGUAGE=\"en\",NAME=\"English\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/index.m3u8\"",
             "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_audio\",LANGUAGE=\"fr\",NAME=\"Version française\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio2/index.m3u8\""],
            audio);
        var variants = Regex.Matches(master, "#EXT-X-STREAM-INF:[^\n]*").Select(m => m.Value).ToList();
        Assert.Equal(2, variants.Count); // 360p and 240p; the audio renditions are not variants of their own
        Assert.All(variants, v => Assert.Contains("RESOLUTION=", v, StringComparison.Ordinal));
        Assert.All(variants, v => Assert.Contains("AUDIO=\"group_audio\"", v, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Package_WhenTwoAudioLanguages_EachRenditionCarriesItsOwnStreamEncrypted()
    {
        foreach (var folder in new[] { "audio", "audio2" })
        {
            var playlist = await File.ReadAllTextAsync(Path.Combine(packaged.Result.Folder, folder, "index.m3u8"));
            Assert.Contains("#EXT-X-KEY:METHOD=AES-128", playlist, StringComparison.Ordinal);
            Assert.Equal(Regex.Matches(await File.ReadAllTextAsync(Path.Combine(packaged.Result.Folder, "360p", "index.m3u8")), "#EXTINF").Count, Regex.Matches(playlist, "#EXTINF").Count);
        }

    }

    [Fact]
    public async Task Package_WhenTextSubtitleStream_PublishesAClearWebVttRenditionNamedByEveryVariant()
    {
        var master = await File.ReadAllTextAsync(packaged.Result.MasterPlaylist);

        Assert.Contains("#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",LANGUAGE=\"en\",NAME=\"English\",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI=\"subtitles/en.m3u8\"", master, StringComparison.Ordinal);
        Assert.All(Regex.Matches(master, "#EXT-X-STREAM-INF:[^\n]*"), m => Assert.EndsWith("SUBTITLES=\"subs\"", m.Value, StringComparison.Ordinal));
        var playlist = await File.ReadAllTextAsync(Path.Combine(packaged.Result.Folder, "subtitles", "en.m3u8"));
        Assert.Contains("#EXTINF:8.", playlist, StringComparison.Ordinal);
        Assert.Contains("\nen.vtt\n", playlist, StringComparison.Ordinal);
        Assert.DoesNotContain("EXT-X-KEY", playlist, StringComparison.Ordinal);
        Assert.EndsWith("#EXT-X-ENDLIST\n", playlist, StringComparison.Ordinal);
        var vtt = await File.ReadAllTextAsync(Path.Combine(packaged.Result.Folder, "subtitles", "en.vtt"));
        Assert.StartsWith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n", vtt, StringComparison.Ordinal);
        Assert.Matches(@"\n00:00\.5[0-9]{2} --> 00:07\.5[0-9]{2}\n" + TrackSources.SourceCue, vtt); // the source's timeline, as the segments have it
    }

    [Fact]
    public async Task Package_WhenVideo_ListsAnIFramePlaylistOfEncryptedOnePictureSegments()
    {
        var master = await File.ReadAllTextAsync(packaged.Result.MasterPlaylist);

        var iframe = Assert.Single(Regex.Matches(master, "#EXT-X-I-FRAME-STREAM-INF:[^\n]*")).Value;
        Assert.Matches("^#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=[1-9][0-9]+,RESOLUTION=426x240,CODECS=\"avc1\\.[0-9a-f]{6}\",URI=\"iframes/index.m3u8\"$", iframe);
        Assert.True(master.IndexOf(iframe, StringComparison.Ordinal) > master.LastIndexOf("#EXT-X-STREAM-INF", StringComparison.Ordinal));
        Assert.DoesNotContain("iframes/index.m3u8\n", master, StringComparison.Ordinal); // not a variant of its own

        var lines = await File.ReadAllLinesAsync(Path.Combine(packaged.Result.Folder, "iframes", "index.m3u8"));
        Assert.Contains("#EXT-X-I-FRAMES-ONLY", lines);
        Assert.Equal(["4.000000", "4.000000"], lines.Where(l => l.StartsWith("#EXTINF:", StringComparison.Ordinal)).Select(l => l[8..].TrimEnd(',')));
        var segment = lines.First(l => l.EndsWith(".m4s", StringComparison.Ordinal));
        var iv = Convert.FromHexString(Regex.Match(lines.First(l => l.StartsWith("#EXT-X-KEY:", StringComparison.Ordinal)), "IV=0x([0-9A-F]{32})").Groups[1].Value);
        using var aes = Aes.Create();
        aes.Key = packaged.Key;
        var joined = Path.Combine(packaged.Sources.Folder, "iframe-first.mp4");
        await File.WriteAllBytesAsync(joined, [.. await File.ReadAllBytesAsync(Path.Combine(packaged.Result.Folder, "iframes", "init.mp4")),
            .. aes.DecryptCbc(await File.ReadAllBytesAsync(Path.Combine(packaged.Result.Folder, "iframes", segment)), iv, PaddingMode.PKCS7)]);

        var frames = await MediaSources.FfprobeAsync("-select_streams", "v:0", "-show_entries", "frame=pict_type,width,height", "-of", "csv=p=0", joined);

        Assert.True(frames.Succeeded, frames.Errors);
        Assert.Equal("426,240,I", frames.Output.Trim().TrimEnd(',')); // one picture, a keyframe (csv may end with an empty side-data column)
    }
}
