using Marquee.Media;

namespace Marquee.Tests.Media;

public sealed class TranscodeProgressTests
{
    [Fact]
    public void Read_WhenFfmpegReportsABlock_GivesPercentAndTimeLeftAtThatSpeed()
    {
        var reports = new List<TranscodeProgress>();
        var reader = new Transcoder.ProgressReader(TimeSpan.FromSeconds(100), new SynchronousProgress<TranscodeProgress>(reports.Add));

        foreach (var line in new[] { "frame=250", "fps=50.0", "out_time_us=10000000", "out_time=00:00:10.000000", "speed=2.5x", "progress=continue" })
        {
            reader.Read(line);
        }

        var p = Assert.Single(reports);
        Assert.Equal(10, p.Percent, 3);
        Assert.Equal(50, p.Fps);
        Assert.Equal(TimeSpan.FromSeconds(36), p.Remaining); // 90 s of media left at 2.5x
    }

    [Fact]
    public void Read_WhenSpeedIsNotKnownYet_GivesNoTimeLeftAndEndsAtOneHundred()
    {
        var reports = new List<TranscodeProgress>();
        var reader = new Transcoder.ProgressReader(TimeSpan.FromSeconds(100), new SynchronousProgress<TranscodeProgress>(reports.Add));

        foreach (var line in new[] { "out_time_us=N/A", "speed=N/A", "progress=continue", "out_time_us=100000000", "speed=3x", "progress=end" })
        {
            reader.Read(line);
        }

        Assert.Null(reports[0].Remaining);
        Assert.Equal(0, reports[0].Percent);
        Assert.Equal((100d, TimeSpan.Zero), (reports[1].Percent, reports[1].Remaining!.Value));
    }
}
