using Marquee.Media;

namespace Marquee.Tests.Media;

public sealed class LadderTests
{
    private static MediaInfo Video(int width, int height, bool audio = true, double? sar = null)
    {
        var streams = new List<MediaStream> { new(0, StreamKind.Video, "h264", width, height, 25, null, null, null, sar) };
        if (audio)
        {
            streams.Add(new MediaStream(1, StreamKind.Audio, "aac", null, null, null, 2, 48000, "eng"));
        }

        return new MediaInfo("mov,mp4", TimeSpan.FromSeconds(60), 1000, streams);
    }

    private static string Describe(LadderPlan plan) =>
        string.Join(' ', plan.Video.Select(v => $"{v.Width}x{v.Height}@{v.Kbps}")) + " | " + string.Join(' ', plan.Audio.Select(a => $"{a.Name}@{a.Kbps}"));

    [Fact]
    public void For_When1080p_GivesFiveRungsAndStereoAac()
    {
        Assert.Equal("1920x1080@5000 1280x720@3000 854x480@1400 640x360@800 426x240@400 | audio@128", Describe(Ladder.For(Video(1920, 1080))));
    }

    [Fact]
    public void For_When720p_NeverUpscales()
    {
        Assert.Equal("1280x720@3000 854x480@1400 640x360@800 426x240@400 | audio@128", Describe(Ladder.For(Video(1280, 720))));
    }

    [Fact]
    public void For_When480pAt3To2_KeepsTheShapeWithEvenWidths()
    {
        Assert.Equal("720x480@1400 540x360@800 360x240@400 | audio@128", Describe(Ladder.For(Video(720, 480))));
    }

    [Fact]
    public void For_WhenAnamorphic_SizesRenditionsToTheDisplayShape()
    {
        // A 16:9 DVD: 720x480 stored, pixels 32:27 wide.
        Assert.Equal("854x480@1400 640x360@800 426x240@400 | audio@128", Describe(Ladder.For(Video(720, 480, sar: 32d / 27))));
    }

    [Fact]
    public void For_WhenBelow240p_GivesOneRungAtTheSourceHeight()
    {
        Assert.Equal("356x200@400 | audio@128", Describe(Ladder.For(Video(356, 200))));
        Assert.Equal("174x144@400 | audio@128", Describe(Ladder.For(Video(176, 145)))); // odd heights are made even for 4:2:0
    }

    [Fact]
    public void For_WhenVideoWithoutSound_GivesNoAudioRendition()
    {
        Assert.Equal("1280x720@3000 854x480@1400 640x360@800 426x240@400 | ", Describe(Ladder.For(Video(1280, 720, audio: false))));
    }

    [Fact]
    public void For_WhenAudioOnly_GivesThreeAacRungs()
    {
        var info = new MediaInfo("mp3", TimeSpan.FromMinutes(3), 1000,
        [
            new MediaStream(0, StreamKind.Audio, "mp3", null, null, null, 2, 44100, null),
            new MediaStream(1, StreamKind.Other, "mjpeg", null, null, null, null, null, null), // cover art
        ]);

        var plan = Ladder.For(info);

        Assert.True(plan.IsAudioOnly);
        Assert.Equal(" | aac64@64 aac128@128 aac256@256", Describe(plan));
    }

    [Fact]
    public void VideoGraph_When1080p_CascadesEachRungFromTheOneAbove()
    {
        // bench/transcode-ladder.sh mirrors this graph for its 1080p source: change both together.
        Assert.Equal(
            "[0:v:0]scale=1920:1080,setsar=1,split=2[v0][c0];[c0]scale=1280:720,setsar=1,split=2[v1][c1];"
            + "[c1]scale=854:480,setsar=1,split=2[v2][c2];[c2]scale=640:360,setsar=1,split=2[v3][c3];[c3]scale=426:240,setsar=1[v4]",
            Transcoder.VideoGraph(Ladder.For(Video(1920, 1080)).Video));
    }

    [Fact]
    public void VideoGraph_WhenOneRung_ScalesWithoutSplit()
    {
        Assert.Equal("[0:v:0]scale=200:112,setsar=1[v0]", Transcoder.VideoGraph(Ladder.For(Video(200, 112)).Video));
    }
}
