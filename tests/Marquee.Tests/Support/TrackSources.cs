using System.Globalization;

namespace Marquee.Tests.Support;

/// <summary>Sources with several tracks, made by ffmpeg at test time: two audio languages and a text subtitle stream.</summary>
public static class TrackSources
{
    /// <summary>The cue of the source's English subtitle stream, shown from 0.5 s to the last half second.</summary>
    public const string SourceCue = "Hello from the source";

    /// <summary>
    /// A Matroska clip: 640x360 test pattern, English audio (440 Hz, default), French audio (660 Hz, titled "Version française"),
    /// and English SubRip subtitles with one cue (<see cref="SourceCue"/>).
    /// </summary>
    public static async Task<string> MakeAsync(string path, int seconds = 8)
    {
        var srt = path + ".srt";
        var end = TimeSpan.FromSeconds(seconds - 0.5);
        await File.WriteAllTextAsync(srt, $"1\n00:00:00,500 --> {end:hh\\:mm\\:ss},{end.Milliseconds:000}\n{SourceCue}\n");
        var (code, _, error) = await Tools.RunAsync("ffmpeg",
        [
            "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000", "-i", srt,
            "-t", seconds.ToString(CultureInfo.InvariantCulture), "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-c:s", "srt",
            "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre", "-metadata:s:a:1", "title=Version française",
            "-metadata:s:s:0", "language=eng", "-disposition:a:0", "default", "-disposition:a:1", "0", path,
        ]);
        File.Delete(srt);
        Assert.True(code == 0, $"ffmpeg could not make {path}: {error}");
        return path;
    }
}
