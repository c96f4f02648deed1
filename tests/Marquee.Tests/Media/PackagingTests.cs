using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Marquee.Media;
using Marquee.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Marquee.Tests.Media;

[Trait("Category", "Media")]
[Collection("Media")]
public sealed partial class PackagingTests(PackagedVideo packaged) : IClassFixture<PackagedVideo>
{
    private string Folder => packaged.Result.Folder;

    [Fact]
    public async Task Package_When720pSource_MasterListsFourVariantsWithBandwidthResolutionCodecs()
    {
        var master = await File.ReadAllTextAsync(packaged.Result.MasterPlaylist);

        var variants = VariantLine().Matches(master).Select(m => m.Value).ToList();
        Assert.Equal(4, variants.Count);
        string[] sizes = ["1280x720", "854x480", "640x360", "426x240"];
        for (var i = 0; i < sizes.Length; i++)
        {
            Assert.Contains($"RESOLUTION={sizes[i]}", variants[i], StringComparison.Ordinal);
            Assert.Matches("BANDWIDTH=[1-9][0-9]+", variants[i]);
            Assert.Matches("CODECS=\"avc1\\.[0-9a-f]{6},mp4a\\.40\\.2\"", variants[i]);
            Assert.Contains("AUDIO=\"group_audio\"", variants[i], StringComparison.Ordinal);
        }

        // One AAC rendition in an audio group, shared by every variant; no audio-only variant of its own.
        Assert.Single(Regex.Matches(master, "#EXT-X-MEDIA:TYPE=AUDIO"));
        Assert.Equal(4, Regex.Matches(master, "#EXT-X-STREAM-INF").Count);
        Assert.Equal(["1080p"], new[] { "1080p" }.Where(n => !Directory.Exists(Path.Combine(Folder, n))));
    }

    [Fact]
    public async Task Package_When720pSource_CutsEveryRenditionIntoTheSameFourSecondSegments()
    {
        var durations = new List<string>();
        foreach (var variant in new[] { "720p", "480p", "360p", "240p", "audio" })
        {
            var lines = await File.ReadAllLinesAsync(Path.Combine(Folder, variant, "index.m3u8"));
            durations.Add(string.Join(' ', lines.Where(l => l.StartsWith("#EXTINF:", StringComparison.Ordinal)).Select(l => l[8..].TrimEnd(','))));
        }

        Assert.Equal("4.000000 1.000000", durations[0]); // a keyframe every 4 s, the same in every rendition
        Assert.All(durations.Take(4), d => Assert.Equal(durations[0], d));
        Assert.Equal(2, durations[4].Split(' ').Length);
    }

    [Fact]
    public async Task Package_WhenEncrypted_SegmentsDecryptWithTheKeyToH264AtTheRungSize()
    {
        var (segment, iv) = await FirstSegmentAsync("480p");
        using var clear = Aes.Create();
        clear.Key = packaged.Key;
        var bytes = clear.DecryptCbc(await File.ReadAllBytesAsync(segment), iv, PaddingMode.PKCS7);
        var joined = Path.Combine(packaged.Sources.Folder, "480p-first.mp4");
        await File.WriteAllBytesAsync(joined, [.. await File.ReadAllBytesAsync(Path.Combine(Folder, "480p", "init.mp4")), .. bytes]);

        var probe = await MediaSources.FfprobeAsync("-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height",
            "-of", "csv=p=0", joined);

        Assert.True(probe.Succeeded, probe.Errors);
        Assert.Equal("h264,854,480", probe.Output.Trim());
    }

    [Fact]
    public async Task Package_WhenEncrypted_ASegmentAloneIsNotDecodable()
    {
        var (segment, _) = await FirstSegmentAsync("720p");
        var joined = Path.Combine(packaged.Sources.Folder, "720p-first-encrypted.mp4");
        await File.WriteAllBytesAsync(joined, [.. await File.ReadAllBytesAsync(Path.Combine(Folder, "720p", "init.mp4")), .. await File.ReadAllBytesAsync(segment)]);

        var decode = await MediaSources.FfmpegAsync(["-xerror", "-i", joined, "-f", "null", "-"], mustSucceed: false);
        var frames = await MediaSources.FfprobeAsync("-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", joined);

        Assert.True(!decode.Succeeded || frames.Output.Trim() is "" or "0", $"decoded {frames.Output}");
    }

    [Fact]
    public async Task Package_WhenEncrypted_PlaysWholeThroughPlaylistsPointingAtALocalKeyFile()
    {
        var keyFile = Path.Combine(packaged.Sources.Folder, "title.key");
        await File.WriteAllBytesAsync(keyFile, packaged.Key);
        foreach (var playlist in HlsEncryption.MediaPlaylists(Folder))
        {
            var text = HlsEncryption.WithKeyUri(await File.ReadAllTextAsync(playlist), HlsEncryption.KeyUriFor(packaged.AssetId), keyFile);
            await File.WriteAllTextAsync(Path.ChangeExtension(playlist, ".local.m3u8"), text);
        }

        var master = (await File.ReadAllTextAsync(packaged.Result.MasterPlaylist)).Replace("/index.m3u8", "/index.local.m3u8", StringComparison.Ordinal);
        var localMaster = Path.Combine(Folder, "master.local.m3u8");
        await File.WriteAllTextAsync(localMaster, master);

        var decoded = 0L;
        var run = await Tool.RunUnconfinedAsync("ffmpeg",
            ["-nostdin", "-v", "error", "-allowed_extensions", "ALL", "-i", localMaster, "-map", "0:v:0", "-map", "0:a:0",
             "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
            line =>
            {
                if (line.StartsWith("out_time_us=", StringComparison.Ordinal))
                {
                    decoded = Math.Max(decoded, long.Parse(line.AsSpan(12), CultureInfo.InvariantCulture));
                }
            },
            CancellationToken.None);

        Assert.True(run.Succeeded, run.Errors);
        Assert.DoesNotContain("rror", run.Errors, StringComparison.Ordinal);
        Assert.InRange(TimeSpan.FromMicroseconds(decoded).TotalSeconds, 4.8, 5.3);
    }

    [Fact]
    public async Task Package_WhenEncrypted_InitSegmentsStayClearAndEverySegmentHasAKeyLineAfterTheMap()
    {
        foreach (var playlist in HlsEncryption.MediaPlaylists(Folder))
        {
            var lines = await File.ReadAllLinesAsync(playlist);
            var map = Array.FindIndex(lines, l => l.StartsWith("#EXT-X-MAP:URI=\"init.mp4\"", StringComparison.Ordinal));
            var firstKey = Array.FindIndex(lines, l => l.StartsWith("#EXT-X-KEY:", StringComparison.Ordinal));
            Assert.True(map >= 0 && firstKey > map, playlist);
            Assert.Equal(lines.Count(l => l.StartsWith("#EXTINF", StringComparison.Ordinal)), lines.Count(l => l.StartsWith("#EXT-X-KEY:METHOD=AES-128,URI=\"key://", StringComparison.Ordinal)));
            var init = await File.ReadAllBytesAsync(Path.Combine(Path.GetDirectoryName(playlist)!, "init.mp4"));
            Assert.Equal("ftyp", System.Text.Encoding.ASCII.GetString(init, 4, 4));
        }
    }

    [Fact]
    public void Package_WhenDone_PublishesAPosterAndLeavesNoStagingFolder()
    {
        Assert.NotNull(packaged.Result.Poster);
        var poster = File.ReadAllBytes(packaged.Result.Poster!);
        Assert.True(poster.Length > 1000 && poster[0] == 0xFF && poster[1] == 0xD8, "a JPEG");
        Assert.False(Directory.Exists(Packager.StagingFolder(packaged.Root, packaged.AssetId)));
        Assert.Equal(Packager.PublishedFolder(packaged.Root, packaged.AssetId), Folder);
    }

    [Fact]
    public void Package_WhenRunning_ReportsProgressUpToOneHundredPercent()
    {
        Assert.NotEmpty(packaged.Reports);
        Assert.Equal(100, packaged.Reports[^1].Percent);
        Assert.Equal(TimeSpan.Zero, packaged.Reports[^1].Remaining);
        Assert.InRange(packaged.Reports[^1].Position.TotalSeconds, 4.8, 5.3);
        Assert.True(packaged.Reports.Zip(packaged.Reports.Skip(1)).All(p => p.Second.Percent >= p.First.Percent));
    }

    [Fact]
    public async Task Package_WhenAudioOnly_GetsAnAacLadderNormalisedToMinus16Lufs()
    {
        var options = MediaSources.Options();
        var probed = MediaSources.Accepted(await new Probe(options).InspectAsync(packaged.Sources.Folder, MediaSources.AudioOnly, CancellationToken.None));
        var id = Guid.NewGuid();
        var key = HlsEncryption.NewKey();

        var result = await new Packager(new Transcoder(options), NullLogger<Packager>.Instance)
            .PackageAsync(id, packaged.Sources.PathOf(MediaSources.AudioOnly), probed.Info, packaged.Root, key, null, CancellationToken.None);

        var master = await File.ReadAllTextAsync(result.MasterPlaylist);
        var variants = VariantLine().Matches(master).Select(m => m.Value).ToList();
        Assert.Equal(3, variants.Count);
        Assert.All(variants, v => Assert.Contains("CODECS=\"mp4a.40.2\"", v, StringComparison.Ordinal));
        Assert.All(variants, v => Assert.DoesNotContain("RESOLUTION", v, StringComparison.Ordinal));
        Assert.Null(result.Poster);
        Assert.Equal(["aac128", "aac256", "aac64"], Directory.GetDirectories(result.Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // The source sine sits near -22 LUFS; every rendition comes out at about -16 (EBU R128).
        Assert.InRange(await IntegratedLoudnessAsync(packaged.Sources.PathOf(MediaSources.AudioOnly)), -24, -20);
        var clear = await DecryptedVariantAsync(result.Folder, "aac128", key);
        Assert.InRange(await IntegratedLoudnessAsync(clear), -17.5, -14.5);
    }

    private static async Task<double> IntegratedLoudnessAsync(string file)
    {
        var run = await Tool.RunUnconfinedAsync("ffmpeg", ["-nostdin", "-hide_banner", "-nostats", "-i", file, "-af", "ebur128", "-f", "null", "-"], null, CancellationToken.None);
        Assert.True(run.Succeeded, run.Errors);
        var summary = run.Errors[run.Errors.LastIndexOf("Integrated loudness:", StringComparison.Ordinal)..];
        return double.Parse(Regex.Match(summary, "I:\\s+(-?[0-9.]+) LUFS").Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>A variant's init segment and every media segment, decrypted with the key and the IVs its playlist names, as one file.</summary>
    private async Task<string> DecryptedVariantAsync(string folder, string variant, byte[] key)
    {
        using var aes = Aes.Create();
        aes.Key = key;
        var dir = Path.Combine(folder, variant);
        var bytes = new List<byte>(await File.ReadAllBytesAsync(Path.Combine(dir, "init.mp4")));
        byte[]? iv = null;
        foreach (var line in await File.ReadAllLinesAsync(Path.Combine(dir, "index.m3u8")))
        {
            if (line.StartsWith("#EXT-X-KEY:", StringComparison.Ordinal))
            {
                iv = Convert.FromHexString(Regex.Match(line, "IV=0x([0-9A-F]{32})").Groups[1].Value);
            }
            else if (line.EndsWith(".m4s", StringComparison.Ordinal))
            {
                bytes.AddRange(aes.DecryptCbc(await File.ReadAllBytesAsync(Path.Combine(dir, line)), iv!, PaddingMode.PKCS7));
            }
        }

        var joined = Path.Combine(packaged.Sources.Folder, $"{Guid.NewGuid():N}-{variant}.mp4");
        await File.WriteAllBytesAsync(joined, [.. bytes]);
        return joined;
    }

    [Fact]
    public async Task Package_WhenSilentVideoBelow240pWithAnOddHeight_GetsOneEvenRungWithoutAudio()
    {
        var options = MediaSources.Options();
        var probed = MediaSources.Accepted(await new Probe(options).InspectAsync(packaged.Sources.Folder, MediaSources.TinySilent, CancellationToken.None));
        var id = Guid.NewGuid();

        var result = await new Packager(new Transcoder(options), NullLogger<Packager>.Instance)
            .PackageAsync(id, packaged.Sources.PathOf(MediaSources.TinySilent), probed.Info, packaged.Root, HlsEncryption.NewKey(), null, CancellationToken.None);

        var master = await File.ReadAllTextAsync(result.MasterPlaylist);
        var variant = Assert.Single(VariantLine().Matches(master)).Value;
        Assert.Contains("RESOLUTION=348x198", variant, StringComparison.Ordinal);
        Assert.Matches("CODECS=\"avc1\\.[0-9a-f]{6}\"", variant);
        Assert.DoesNotContain("EXT-X-MEDIA", master, StringComparison.Ordinal);
        Assert.NotNull(result.Poster);
    }

    [Fact]
    public async Task Package_WhenCancelled_KillsFfmpegAndPublishesNothing()
    {
        var options = MediaSources.Options();
        var probed = MediaSources.Accepted(await new Probe(options).InspectAsync(packaged.Sources.Folder, MediaSources.Video720, CancellationToken.None));
        var id = Guid.NewGuid();
        using var cancel = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new Packager(new Transcoder(options), NullLogger<Packager>.Instance)
            .PackageAsync(id, packaged.Sources.PathOf(MediaSources.Video720), probed.Info, packaged.Root, HlsEncryption.NewKey(),
                new SynchronousProgress<TranscodeProgress>(_ => cancel.Cancel()), cancel.Token));

        Assert.False(Directory.Exists(Packager.StagingFolder(packaged.Root, id)));
        Assert.False(Directory.Exists(Packager.PublishedFolder(packaged.Root, id)));
        // No ffmpeg left behind: the sandboxed tool gets its SIGKILL with its sandbox and may take a moment to be gone.
        var staging = Packager.StagingFolder(packaged.Root, id);
        await Poll.UntilAsync(() => Task.FromResult(WorkingDirectoriesOfRunningProcesses().Count(d => d == staging)), n => n == 0,
            TimeSpan.FromSeconds(10), "the cancelled ffmpeg to be gone");
    }

    private static List<string> WorkingDirectoriesOfRunningProcesses()
    {
        var found = new List<string>();
        foreach (var proc in Directory.EnumerateDirectories("/proc").Where(d => Path.GetFileName(d).All(char.IsAsciiDigit)))
        {
            try
            {
                if (new FileInfo(Path.Combine(proc, "cwd")).LinkTarget is { } cwd)
                {
                    found.Add(cwd.Replace(" (deleted)", "", StringComparison.Ordinal));
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    [Fact]
    public async Task Package_WhenFfmpegFails_DeletesItsStagingFolder()
    {
        var probed = MediaSources.Accepted(await new Probe(MediaSources.Options()).InspectAsync(packaged.Sources.Folder, MediaSources.Video720, CancellationToken.None));
        var id = Guid.NewGuid();
        var broken = MediaSources.Options(o => o.FfmpegPath = "false");

        var failure = await Assert.ThrowsAsync<TranscodeFailedException>(() => new Packager(new Transcoder(broken), NullLogger<Packager>.Instance)
            .PackageAsync(id, packaged.Sources.PathOf(MediaSources.Video720), probed.Info, packaged.Root, HlsEncryption.NewKey(), null, CancellationToken.None));

        Assert.Contains("exit code 1", failure.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Packager.StagingFolder(packaged.Root, id)));
        Assert.False(Directory.Exists(Packager.PublishedFolder(packaged.Root, id)));
    }

    private async Task<(string Segment, byte[] Iv)> FirstSegmentAsync(string variant)
    {
        var lines = await File.ReadAllLinesAsync(Path.Combine(Folder, variant, "index.m3u8"));
        var key = lines.First(l => l.StartsWith("#EXT-X-KEY:", StringComparison.Ordinal));
        var iv = Convert.FromHexString(Regex.Match(key, "IV=0x([0-9A-F]{32})").Groups[1].Value);
        var segment = lines.First(l => l.EndsWith(".m4s", StringComparison.Ordinal));
        return (Path.Combine(Folder, variant, segment), iv);
    }

    [GeneratedRegex("#EXT-X-STREAM-INF:[^\n]*")]
    private static partial Regex VariantLine();
}
