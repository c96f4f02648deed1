using Marquee.Media;
using Microsoft.Extensions.Options;

namespace Marquee.Tests.Media;

/// <summary>The heavy Media test classes run one after another, not side by side, so that ffmpeg leaves cores for the rest of the suite.</summary>
[CollectionDefinition("Media")]
public sealed class MediaCollection;

/// <summary>Small sources made with ffmpeg's lavfi at test time (no media is committed), in a temp folder of their own.</summary>
public sealed class MediaSources : IAsyncLifetime
{
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "marquee-media-tests", Guid.NewGuid().ToString("N"));

    /// <summary>1280x720, 25 fps, 5 s, with a stereo sine; moov in front (so a cut copy still passes ffprobe).</summary>
    public const string Video720 = "video720.mp4";

    public const string AudioOnly = "audio.m4a";

    /// <summary>350x199 (an odd height), 25 fps, 3 s, no sound.</summary>
    public const string TinySilent = "tiny-silent.mp4";

    public const string NotMedia = "notes.mp4";

    public const string Empty = "empty.mp4";

    public const string Truncated = "truncated.mp4";

    /// <summary>An HLS playlist named .mp4 that points at another file on the machine.</summary>
    public const string PlaylistInDisguise = "playlist.mp4";

    public string PathOf(string name) => Path.Combine(Folder, name);

    /// <summary>Options for tests: fastest x264 preset, everything else as configured by default.</summary>
    internal static IOptions<MediaOptions> Options(Action<MediaOptions>? change = null)
    {
        var o = new MediaOptions { X264Preset = "ultrafast", EncoderThreads = 1 };
        change?.Invoke(o);
        return Microsoft.Extensions.Options.Options.Create(o);
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Folder);
        await FfmpegAsync(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "5", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2",
            "-movflags", "+faststart", PathOf(Video720)]);
        await FfmpegAsync(["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100", "-t", "5", "-c:a", "aac", "-b:a", "96k", PathOf(AudioOnly)]);
        await FfmpegAsync(["-f", "lavfi", "-i", "testsrc2=size=352x200:rate=25", "-vf", "scale=350:199,setsar=1,format=yuv444p",
            "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", PathOf(TinySilent)]);
        await File.WriteAllTextAsync(PathOf(NotMedia), "These are meeting notes, not a film.\n");
        await File.WriteAllBytesAsync(PathOf(Empty), []);
        await File.WriteAllTextAsync(PathOf(PlaylistInDisguise), $"#EXTM3U\n#EXT-X-TARGETDURATION:5\n#EXTINF:5,\n{PathOf(Video720)}\n#EXT-X-ENDLIST\n");
        var full = await File.ReadAllBytesAsync(PathOf(Video720));
        await File.WriteAllBytesAsync(PathOf(Truncated), full[..(full.Length * 60 / 100)]);
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }

    /// <summary>The probe's acceptance, or a failure that says why the source was refused (a bare type mismatch hides it).</summary>
    internal static MediaAccepted Accepted(ProbeOutcome outcome) => outcome switch
    {
        MediaAccepted accepted => accepted,
        MediaRejected rejected => throw new Xunit.Sdk.XunitException($"The probe refused the source: {rejected.Reason}"),
        _ => throw new Xunit.Sdk.XunitException($"Unexpected probe outcome {outcome}"),
    };

    internal static async Task<ToolRun> FfmpegAsync(string[] arguments, bool mustSucceed = true)
    {
        var run = await Tool.RunUnconfinedAsync("ffmpeg", ["-nostdin", "-v", "error", "-y", .. arguments], null, CancellationToken.None);
        if (mustSucceed)
        {
            Assert.True(run.Succeeded, $"ffmpeg {string.Join(' ', arguments)}: {run.Errors}");
        }

        return run;
    }

    internal static Task<ToolRun> FfprobeAsync(params string[] arguments) =>
        Tool.RunUnconfinedAsync("ffprobe", ["-v", "error", .. arguments], null, CancellationToken.None);
}
