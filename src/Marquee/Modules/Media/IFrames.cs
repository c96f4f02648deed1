using System.Globalization;
using System.Text.RegularExpressions;

namespace Marquee.Media;

/// <summary>
/// The I-frame playlist of a video title (trick play: fast forward and rewind, scrubbing with pictures). Segments are
/// encrypted whole (AES-128-CBC), so byte ranges into the normal segments would not decrypt; instead the same ffmpeg process
/// makes one more small rendition of keyframes only, one picture per segment length (<c>fps=1/4</c>, every frame a
/// keyframe) at the smallest rung's size, packaged as fMP4 like the others (and encrypted like them). Its playlist is marked
/// <c>#EXT-X-I-FRAMES-ONLY</c> and listed in the master as <c>#EXT-X-I-FRAME-STREAM-INF</c> instead of a variant.
/// </summary>
internal static partial class IFrames
{
    /// <summary>The rendition's folder and its name in <c>-var_stream_map</c>.</summary>
    public const string Name = "iframes";

    /// <summary>Its target bitrate: one picture every segment length, small.</summary>
    public const int Kbps = 100;

    private const string Label = "vi";

    /// <summary>The filter chain to append to the graph: the source's first video stream, one frame per segment, scaled to <paramref name="size"/>.</summary>
    public static string Graph(VideoRung size, int segmentSeconds)
    {
        ArgumentNullException.ThrowIfNull(size);
        return $";[0:v:0]fps=1/{segmentSeconds.ToString(CultureInfo.InvariantCulture)},scale={size.Width}:{size.Height},setsar=1[{Label}]";
    }

    /// <summary>The mapping of the keyframe rendition's output stream (after the rungs' maps, so that it is video output stream number rungs).</summary>
    public static IEnumerable<string> Map() => ["-map", $"[{Label}]"];

    /// <summary>Its encoder options, as video output stream <paramref name="index"/>; after the common ones (the last matching option wins).</summary>
    public static IEnumerable<string> Options(int index)
    {
        var i = index.ToString(CultureInfo.InvariantCulture);
        return [$"-b:v:{i}", $"{Kbps}k", $"-maxrate:v:{i}", $"{Kbps * 4}k", $"-bufsize:v:{i}", $"{Kbps * 8}k", $"-g:v:{i}", "1", $"-keyint_min:v:{i}", "1"];
    }

    public static string StreamMap(int index) => $"v:{index.ToString(CultureInfo.InvariantCulture)},name:{Name}";

    /// <summary>The master with the keyframe rendition's variant turned into an <c>#EXT-X-I-FRAME-STREAM-INF</c> line after the variants.</summary>
    public static string InMaster(string master)
    {
        ArgumentNullException.ThrowIfNull(master);
        var lines = master.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n').Split('\n').ToList();
        var uri = lines.FindIndex(l => l.Trim() == $"{Name}/index.m3u8");
        if (uri < 1 || !lines[uri - 1].StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal))
        {
            return master;
        }

        var attributes = lines[uri - 1]["#EXT-X-STREAM-INF:".Length..];
        attributes = AudioOrSubtitles().Replace(attributes, "");
        lines.RemoveRange(uri - 1, 2);
        while (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        lines.Add($"#EXT-X-I-FRAME-STREAM-INF:{attributes},URI=\"{Name}/index.m3u8\"");
        return string.Join('\n', lines) + "\n";
    }

    /// <summary>Marks the keyframe rendition's media playlist <c>#EXT-X-I-FRAMES-ONLY</c> (each segment is one picture lasting until the next).</summary>
    public static async Task MarkPlaylistAsync(string packageFolder, CancellationToken cancellationToken)
    {
        var path = Path.Combine(packageFolder, Name, "index.m3u8");
        if (!File.Exists(path))
        {
            return;
        }

        var text = await File.ReadAllTextAsync(path, cancellationToken);
        if (text.Contains("#EXT-X-I-FRAMES-ONLY", StringComparison.Ordinal))
        {
            return;
        }

        var at = text.IndexOf("#EXT-X-TARGETDURATION", StringComparison.Ordinal);
        text = at < 0 ? text : text.Insert(at, "#EXT-X-I-FRAMES-ONLY\n");
        await File.WriteAllTextAsync(path, text, cancellationToken);
    }

    /// <summary>Attributes of EXT-X-STREAM-INF that EXT-X-I-FRAME-STREAM-INF may not carry (RFC 8216 4.3.4.3).</summary>
    [GeneratedRegex(",(AUDIO|SUBTITLES|CLOSED-CAPTIONS|FRAME-RATE)=(\"[^\"]*\"|[^,]*)")]
    private static partial Regex AudioOrSubtitles();
}
