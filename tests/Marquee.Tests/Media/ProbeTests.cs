using Marquee.Media;

namespace Marquee.Tests.Media;

[Trait("Category", "Media")]
[Collection("Media")]
public sealed class ProbeTests(MediaSources sources) : IClassFixture<MediaSources>
{
    private static Task<ProbeOutcome> InspectAsync(MediaSources sources, string name, Action<MediaOptions>? change = null) =>
        new Probe(MediaSources.Options(change)).InspectAsync(sources.Folder, name, CancellationToken.None);

    [Fact]
    public async Task Inspect_WhenGoodVideo_DescribesContainerDurationAndStreams()
    {
        var outcome = await InspectAsync(sources, MediaSources.Video720);

        var accepted = MediaSources.Accepted(outcome);
        var info = accepted.Info;
        Assert.Contains("mp4", info.Container, StringComparison.Ordinal);
        Assert.InRange(info.Duration.TotalSeconds, 4.9, 5.1);
        var video = Assert.Single(info.Streams, s => s.Kind == StreamKind.Video);
        Assert.Equal(("h264", 1280, 720), (video.Codec, video.Width, video.Height));
        Assert.Equal(25, video.FrameRate!.Value, 3);
        var audio = Assert.Single(info.Streams, s => s.Kind == StreamKind.Audio);
        Assert.Equal(("aac", 2, 48000), (audio.Codec, audio.Channels, audio.SampleRate));
        Assert.Equal("und", audio.Language);
        Assert.Contains("\"streams\"", accepted.ProbeJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_WhenTextFileNamedMp4_RejectsAsNotMedia()
    {
        var rejected = Assert.IsType<MediaRejected>(await InspectAsync(sources, MediaSources.NotMedia));

        Assert.StartsWith("Not a media file", rejected.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(sources.Folder, rejected.Reason, StringComparison.Ordinal); // no server paths in a reason
    }

    [Fact]
    public async Task Inspect_WhenAPlaylistIsNamedMp4_RejectsItWithoutFollowingItToOtherFiles()
    {
        // Opened as HLS, it would "play" another local file; only real containers are opened.
        var rejected = Assert.IsType<MediaRejected>(await InspectAsync(sources, MediaSources.PlaylistInDisguise));

        Assert.StartsWith("Not a media file", rejected.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_WhenZeroLength_RejectsAsEmpty()
    {
        var rejected = Assert.IsType<MediaRejected>(await InspectAsync(sources, MediaSources.Empty));

        Assert.Contains("empty", rejected.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_WhenMp4CutTo60Percent_RejectsAsTruncatedThoughFfprobeAcceptsIt()
    {
        // ffprobe alone is fooled: the index is in front and claims the full five seconds.
        var probe = await MediaSources.FfprobeAsync("-print_format", "json", "-show_format", sources.PathOf(MediaSources.Truncated));
        Assert.True(probe.Succeeded, probe.Errors);
        Assert.InRange(Probe.Parse(probe.Output, 1).Duration.TotalSeconds, 4.9, 5.1);

        var rejected = Assert.IsType<MediaRejected>(await InspectAsync(sources, MediaSources.Truncated));

        Assert.Contains("truncated", rejected.Reason, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> Limits() => new()
    {
        { "duration", "lasts" },
        { "minimum duration", "shorter than the minimum" },
        { "height", "over the limit of 1920x480" },
        { "frame rate", "frames per second" },
        { "streams", "streams" },
        { "file size", "bytes" },
    };

    [Theory]
    [MemberData(nameof(Limits))]
    public async Task Inspect_WhenOverALimit_RejectsFromTheProbeBeforeDecoding(string limit, string reasonMentions)
    {
        var rejected = Assert.IsType<MediaRejected>(await InspectAsync(sources, MediaSources.Video720, o =>
        {
            // Were the source decoded, this would throw: the limits are checked from the probe alone.
            o.FfmpegPath = "/nonexistent/ffmpeg";
            switch (limit)
            {
                case "duration": o.MaxDuration = TimeSpan.FromSeconds(2); break;
                case "minimum duration": o.MinDuration = TimeSpan.FromSeconds(10); break;
                case "height": (o.MaxWidth, o.MaxHeight) = (1920, 480); break;
                case "frame rate": o.MaxFrameRate = 24; break;
                case "streams": o.MaxStreams = 1; break;
                case "file size": o.MaxFileSizeBytes = 1000; break;
            }
        }));

        Assert.Contains(reasonMentions, rejected.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_WhenPathLeavesTheFolder_Throws()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => InspectAsync(sources, "../../etc/passwd"));
    }

    [Fact]
    public async Task Inspect_WhenAudioOnly_AcceptsWithNoVideo()
    {
        var accepted = MediaSources.Accepted(await InspectAsync(sources, MediaSources.AudioOnly));

        Assert.True(accepted.Info.IsAudioOnly);
        Assert.Equal(44100, accepted.Info.Audio!.SampleRate);
    }
}
