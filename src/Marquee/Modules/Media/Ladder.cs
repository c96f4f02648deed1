namespace Marquee.Media;

/// <summary>One H.264 rendition of a title's video.</summary>
internal sealed record VideoRung(string Name, int Width, int Height, int Kbps);

/// <summary>
/// One AAC rendition of a title's sound (stereo). With video, each is one of the source's audio streams (<see cref="SourceIndex"/>
/// counts audio streams only: <c>0:a:N</c>), with its language tag, title and whether it is the one played by default.
/// </summary>
internal sealed record AudioRung(string Name, int Kbps, int SourceIndex = 0, string? Language = null, string? Title = null, bool IsDefault = true);

/// <summary>The renditions to make of one source: video rungs (none for audio-only sources) and audio rungs.</summary>
internal sealed record LadderPlan(IReadOnlyList<VideoRung> Video, IReadOnlyList<AudioRung> Audio)
{
    public bool IsAudioOnly => Video.Count == 0;
}

/// <summary>Which renditions a source gets. Pure: the same probe gives the same ladder.</summary>
internal static class Ladder
{
    /// <summary>Heights and bitrates of the video ladder, best first. Never upscaled: only rungs at or below the source's height.</summary>
    internal static readonly (int Height, int Kbps)[] VideoRungs = [(1080, 5000), (720, 3000), (480, 1400), (360, 800), (240, 400)];

    internal const int AudioWithVideoKbps = 128;

    internal static readonly int[] AudioOnlyKbps = [64, 128, 256];

    public static LadderPlan For(MediaInfo info) => For(info, maxAudioTracks: 1);

    /// <summary>The ladder, with up to <paramref name="maxAudioTracks"/> of the source's audio streams as alternate audio renditions of a video.</summary>
    public static LadderPlan For(MediaInfo info, int maxAudioTracks)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (info.Video is { Width: > 0, Height: > 0 } video)
        {
            // Renditions have square pixels, so their shape follows the display width (anamorphic sources get wider).
            var (w, h) = (video.DisplayWidth!.Value, video.Height.Value);
            var rungs = VideoRungs
                .Where(r => r.Height <= h)
                .Select(r => new VideoRung($"{r.Height}p", EvenWidth(w, h, r.Height), r.Height, r.Kbps))
                .ToList();
            if (rungs.Count == 0)
            {
                // Smaller than the smallest rung: one rendition at the source's own size (made even for 4:2:0).
                var even = Math.Max(2, h - (h % 2));
                rungs.Add(new VideoRung($"{even}p", EvenWidth(w, h, even), even, VideoRungs[^1].Kbps));
            }

            return new LadderPlan(rungs, AlternateAudio(info, maxAudioTracks));
        }

        if (info.Audio is not null)
        {
            return new LadderPlan([], [.. AudioOnlyKbps.Select(k => new AudioRung($"aac{k}", k))]);
        }

        throw new ArgumentException("A source with neither video nor audio has no ladder.", nameof(info));
    }

    /// <summary>
    /// One rendition per audio stream of a video source (at most <paramref name="max"/>, in the source's order): the first is named
    /// <c>audio</c>, the others <c>audio2</c>, <c>audio3</c>...; the default one is the first with the default disposition, else the first.
    /// </summary>
    private static List<AudioRung> AlternateAudio(MediaInfo info, int max)
    {
        var streams = info.Streams.Where(s => s.Kind == StreamKind.Audio).Take(Math.Max(1, max)).ToList();
        var preferred = Math.Max(0, streams.FindIndex(s => s.IsDefault));
        return [.. streams.Select((s, i) => new AudioRung(i == 0 ? "audio" : $"audio{i + 1}", AudioWithVideoKbps, i, s.Language, s.Title, i == preferred))];
    }

    /// <summary>The width that keeps the source's shape at <paramref name="height"/>, rounded to an even number.</summary>
    private static int EvenWidth(int width, int height, int targetHeight)
    {
        var w = (int)Math.Round(width * (double)targetHeight / height / 2, MidpointRounding.AwayFromZero) * 2;
        return Math.Max(2, w);
    }
}
