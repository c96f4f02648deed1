using Marquee.Media;

namespace Marquee.Tests.Media;

/// <summary>The master playlist's alternate renditions (audio languages, subtitles), as text.</summary>
public sealed class RenditionsTests
{
    private const string FfmpegMaster = """
        #EXTM3U
        #EXT-X-VERSION:7
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_audio",NAME="audio_0",DEFAULT=YES,URI="audio/index.m3u8"
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_audio",NAME="audio_1",DEFAULT=YES,URI="audio2/index.m3u8"
        #EXT-X-STREAM-INF:BANDWIDTH=940800,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="group_audio"
        360p/index.m3u8

        #EXT-X-STREAM-INF:BANDWIDTH=540800,RESOLUTION=426x240,CODECS="avc1.640015,mp4a.40.2",AUDIO="group_audio"
        240p/index.m3u8

        """;

    private static readonly LadderPlan TwoLanguages = new(
        [new VideoRung("360p", 640, 360, 800), new VideoRung("240p", 426, 240, 400)],
        [new AudioRung("audio", 128, 0, "eng", null, IsDefault: false), new AudioRung("audio2", 128, 1, "fre", null, IsDefault: true)]);

    [Fact]
    public void DescribeAudio_WhenTwoLanguages_NamesThemAndMarksOnlyTheDefault()
    {
        var master = Renditions.DescribeAudio(FfmpegMaster, TwoLanguages);

        Assert.Contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_audio\",LANGUAGE=\"en\",NAME=\"English\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/index.m3u8\"", master, StringComparison.Ordinal);
        Assert.Contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_audio\",LANGUAGE=\"fr\",NAME=\"Français\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio2/index.m3u8\"", master, StringComparison.Ordinal);
        Assert.DoesNotContain("audio_0", master, StringComparison.Ordinal);
    }

    [Fact]
    public void DescribeAudio_WhenUntaggedWithTheSameTitle_GivesDistinctNamesWithoutLanguage()
    {
        var plan = TwoLanguages with { Audio = [new AudioRung("audio", 128, 0, "und", "Main \"mix\""), new AudioRung("audio2", 128, 1, null, "Main \"mix\"", false)] };

        var master = Renditions.DescribeAudio(FfmpegMaster, plan);

        Assert.DoesNotContain("LANGUAGE=", master, StringComparison.Ordinal);
        Assert.Contains("NAME=\"Main 'mix'\",DEFAULT=YES", master, StringComparison.Ordinal);
        Assert.Contains("NAME=\"Main 'mix' (2)\",DEFAULT=NO", master, StringComparison.Ordinal);
    }

    [Fact]
    public void WithSubtitles_WhenTracks_ListsThemBeforeTheVariantsAndEveryVariantNamesTheGroup()
    {
        SubtitleRendition[] subs = [new("en", "en", "English", SubtitleRendition.FromSource, "en.vtt"), new("upload-pt-br", "pt-BR", "Português (Brasil)", SubtitleRendition.FromUpload, "x.vtt")];

        var master = Renditions.WithSubtitles(FfmpegMaster, subs);

        var lines = master.Split('\n');
        var media = lines.Where(l => l.StartsWith("#EXT-X-MEDIA:TYPE=SUBTITLES", StringComparison.Ordinal)).ToList();
        Assert.Equal(
            ["#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",LANGUAGE=\"en\",NAME=\"English\",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI=\"subtitles/en.m3u8\"",
             "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",LANGUAGE=\"pt-BR\",NAME=\"Português (Brasil)\",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI=\"subtitles/upload-pt-br.m3u8\""],
            media);
        var variants = lines.Where(l => l.StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, variants.Count);
        Assert.All(variants, v => Assert.EndsWith(",SUBTITLES=\"subs\"", v, StringComparison.Ordinal));
        Assert.True(Array.FindLastIndex(lines, l => l.StartsWith("#EXT-X-MEDIA:", StringComparison.Ordinal)) < Array.FindIndex(lines, l => l.StartsWith("#EXT-X-STREAM-INF", StringComparison.Ordinal)));

        // Applying again is idempotent; applying none removes the group and its mentions.
        Assert.Equal(master, Renditions.WithSubtitles(master, subs));
        var none = Renditions.WithSubtitles(master, []);
        Assert.DoesNotContain("SUBTITLES", none, StringComparison.Ordinal);
        Assert.Equal(2, none.Split('\n').Count(l => l.StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("eng", "en")]
    [InlineData("fre", "fr")]
    [InlineData("fra", "fr")]
    [InlineData("ger", "de")]
    [InlineData("chi", "zh")]
    [InlineData("en", "en")]
    [InlineData("PT-br", "pt-BR")]
    [InlineData("zh-hant", "zh-Hant")]
    [InlineData("und", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    [InlineData("not a language", null)]
    public void Bcp47FromTag_WhenContainerTag_GivesTheBcp47Tag(string? tag, string? expected) =>
        Assert.Equal(expected, Renditions.Bcp47FromTag(tag));

    [Theory]
    [InlineData(null, "en", "English")]
    [InlineData(null, "fr", "Français")]
    [InlineData(null, "de", "Deutsch")]
    [InlineData("Commentary", "en", "Commentary")]
    [InlineData(null, null, "Audio 1")]
    public void DisplayName_WhenLanguageOrTitle_IsHumanReadable(string? title, string? language, string expected) =>
        Assert.Equal(expected, Renditions.DisplayName(title, language, "Audio 1"));

    [Fact]
    public void WithTimestampMap_WhenWebVtt_PutsTheMapAfterTheHeaderLine()
    {
        var vtt = SubtitleTool.WithTimestampMap("\uFEFFWEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nHi\r\n");

        Assert.StartsWith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n00:01.000 --> 00:02.000\nHi", vtt, StringComparison.Ordinal);
        Assert.Equal(vtt, SubtitleTool.WithTimestampMap(vtt));
    }

    [Fact]
    public async Task Extract_WhenOnlyBitmapSubtitles_SkipsThemWithAReasonAndRunsNothing()
    {
        var info = new MediaInfo("matroska", TimeSpan.FromSeconds(5), 1000,
            [new MediaStream(0, StreamKind.Video, "h264", 640, 360, 25, null, null, null), new MediaStream(1, StreamKind.Subtitle, "hdmv_pgs_subtitle", null, null, null, null, null, "eng")]);

        var (made, skipped) = await new SubtitleTool(new MediaOptions { FfmpegPath = "false" }).ExtractAsync("/nonexistent.mkv", info, Path.GetTempPath(), CancellationToken.None);

        Assert.Empty(made);
        Assert.Contains("hdmv_pgs_subtitle", Assert.Single(skipped), StringComparison.Ordinal);
    }

    [Fact]
    public void Ladder_WhenThreeAudioStreamsAndACapOfTwo_GetsTwoRenditionsWithTheDefaultDispositionOne()
    {
        var info = new MediaInfo("matroska", TimeSpan.FromSeconds(5), 1000,
        [
            new MediaStream(0, StreamKind.Video, "h264", 640, 360, 25, null, null, null),
            new MediaStream(1, StreamKind.Audio, "aac", null, null, null, 2, 48000, "eng"),
            new MediaStream(2, StreamKind.Subtitle, "subrip", null, null, null, null, null, "eng"),
            new MediaStream(3, StreamKind.Audio, "aac", null, null, null, 2, 48000, "fre", Title: "VF", IsDefault: true),
            new MediaStream(4, StreamKind.Audio, "aac", null, null, null, 2, 48000, "ger"),
        ]);

        var plan = Ladder.For(info, maxAudioTracks: 2);

        Assert.Equal(["audio", "audio2"], plan.Audio.Select(a => a.Name));
        Assert.Equal([0, 1], plan.Audio.Select(a => a.SourceIndex));
        Assert.Equal([false, true], plan.Audio.Select(a => a.IsDefault));
        Assert.Equal("VF", plan.Audio[1].Title);
        Assert.Single(Ladder.For(info).Audio);
    }

    [Fact]
    public void IFramesInMaster_WhenKeyframeVariant_BecomesAnIFrameStreamInfWithoutAudioAfterTheVariants()
    {
        var master = FfmpegMaster.TrimEnd('\n') + "\n#EXT-X-STREAM-INF:BANDWIDTH=110000,RESOLUTION=426x240,CODECS=\"avc1.640015\",AUDIO=\"group_audio\",FRAME-RATE=0.250\niframes/index.m3u8\n\n";

        var rewritten = IFrames.InMaster(master);

        var lines = rewritten.TrimEnd('\n').Split('\n');
        Assert.Equal("#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=110000,RESOLUTION=426x240,CODECS=\"avc1.640015\",URI=\"iframes/index.m3u8\"", lines[^1]);
        Assert.Equal(2, lines.Count(l => l.StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal)));
        Assert.DoesNotContain("iframes/index.m3u8", string.Join('\n', lines[..^1]), StringComparison.Ordinal);
        Assert.Equal(rewritten, IFrames.InMaster(rewritten));
    }
}
