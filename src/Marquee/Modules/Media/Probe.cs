using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Marquee.Media;

/// <summary>
/// Looks at a source before anything is spent on it: ffprobe for what it claims to be (refused early when over a limit),
/// then one full decode for whether it really is that (a truncated MP4 with its index in front passes ffprobe).
/// </summary>
internal sealed partial class Probe(IOptions<MediaOptions> options)
{
    /// <summary>What ffmpeg's decoders print when a picture's header is over <c>-max_pixels</c>.</summary>
    internal const string MaxPixelsRefusal = "exceeds specified max pixel count";

    private readonly MediaOptions options = options.Value;

    [System.Text.RegularExpressions.GeneratedRegex(@"Picture size (\d+x\d+)")]
    private static partial System.Text.RegularExpressions.Regex PictureSize();

    /// <summary>Probes <paramref name="fileName"/>, a file inside <paramref name="folder"/> (the one place the caller lets the tools read).</summary>
    public async Task<ProbeOutcome> InspectAsync(string folder, string fileName, CancellationToken cancellationToken)
    {
        var path = InsideFolder(folder, fileName);
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            return new MediaRejected("The file is missing.");
        }

        if (file.Length == 0)
        {
            return new MediaRejected("The file is empty (zero bytes).");
        }

        if (file.Length > options.MaxFileSizeBytes)
        {
            return new MediaRejected($"The file is {file.Length:N0} bytes, over the limit of {options.MaxFileSizeBytes:N0}.");
        }

        var probe = await Tool.RunConfinedAsync(options, options.FfprobePath, ToolAccess.Reading(path),
            ["-v", "error", "-protocol_whitelist", "file", "-format_whitelist", options.AllowedContainers, "-max_pixels", options.MaxPixels, "-print_format", "json", "-show_format", "-show_streams", "file:" + path],
            null, cancellationToken);

        // ffprobe decodes a frame of some codecs (PNG, JPEG, cover art) to learn its format: -max_pixels makes the decoder
        // refuse a picture over the limit from its header (a pixel flood) instead of allocating it; the size then reads 0.
        if (probe.Errors.Contains(MaxPixelsRefusal, StringComparison.Ordinal))
        {
            var size = PictureSize().Match(probe.Errors).Groups[1].Value;
            return new MediaRejected($"A picture in the file is {(size.Length > 0 ? size : "larger than that")}, over the limit of {options.MaxWidth}x{options.MaxHeight} pixels (refused from its header, before decoding).");
        }

        if (!probe.Succeeded)
        {
            return new MediaRejected($"Not a media file that can be read ({Anonymised(probe.LastError, path)}).");
        }

        MediaInfo info;
        try
        {
            info = Parse(probe.Output, file.Length);
        }
        catch (JsonException e)
        {
            return new MediaRejected($"The probe of the file could not be read ({e.Message}).");
        }

        if (CheckLimits(info) is { } refused)
        {
            return refused;
        }

        return await DecodeFullyAsync(path, info, cancellationToken) ?? (ProbeOutcome)new MediaAccepted(info, probe.Output);
    }

    /// <summary>
    /// Technical metadata only (one ffprobe run, confined like every run, the same container whitelist; no decode, no limits):
    /// for the asset library. Null, with ffprobe's reason, when ffprobe cannot read the file as media (a script, an image).
    /// </summary>
    public async Task<(MediaInfo? Info, string? Json, string? Error)> DescribeAsync(string folder, string fileName, CancellationToken cancellationToken)
    {
        var path = InsideFolder(folder, fileName);
        var size = new FileInfo(path).Length;
        var probe = await Tool.RunConfinedAsync(options, options.FfprobePath, ToolAccess.Reading(path),
            ["-v", "error", "-protocol_whitelist", "file", "-format_whitelist", options.AllowedContainers, "-max_pixels", options.MaxPixels, "-print_format", "json", "-show_format", "-show_streams", "file:" + path],
            null, cancellationToken);
        if (!probe.Succeeded)
        {
            return (null, null, Anonymised(probe.LastError, path));
        }

        try
        {
            return (Parse(probe.Output, size), probe.Output, null);
        }
        catch (JsonException e)
        {
            return (null, null, e.Message);
        }
    }

    internal static string InsideFolder(string folder, string fileName)
    {
        var root = Path.GetFullPath(folder);
        var path = Path.GetFullPath(Path.Combine(root, fileName));
        if (!path.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{fileName}' is not inside '{folder}'.", nameof(fileName));
        }

        return path;
    }

    /// <summary>Reads ffprobe's JSON (<c>-show_format -show_streams</c>) into a <see cref="MediaInfo"/>.</summary>
    internal static MediaInfo Parse(string json, long sizeBytes)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var streams = new List<MediaStream>();
        if (root.TryGetProperty("streams", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var s in list.EnumerateArray())
            {
                var kind = Str(s, "codec_type") switch
                {
                    "video" when !IsAttachedPicture(s) => StreamKind.Video,
                    "audio" => StreamKind.Audio,
                    "subtitle" => StreamKind.Subtitle,
                    "data" => StreamKind.Data,
                    _ => StreamKind.Other, // cover art in audio files is a 'video' stream with the attached_pic disposition
                };
                var rate = kind == StreamKind.Video ? Rate(Str(s, "avg_frame_rate")) ?? Rate(Str(s, "r_frame_rate")) : null;
                streams.Add(new MediaStream(
                    Int(s, "index") ?? streams.Count,
                    kind,
                    Str(s, "codec_name"),
                    kind == StreamKind.Video ? Int(s, "width") : null,
                    kind == StreamKind.Video ? Int(s, "height") : null,
                    rate,
                    kind == StreamKind.Audio ? Int(s, "channels") : null,
                    kind == StreamKind.Audio ? Int(s, "sample_rate") : null,
                    s.TryGetProperty("tags", out var tags) ? Str(tags, "language") : null,
                    kind == StreamKind.Video ? Ratio(Str(s, "sample_aspect_ratio"), ':') : null,
                    s.TryGetProperty("tags", out var titleTags) ? Str(titleTags, "title") : null,
                    s.TryGetProperty("disposition", out var disposition) && Int(disposition, "default") == 1));
            }
        }

        var format = root.TryGetProperty("format", out var f) ? f : default;
        var container = format.ValueKind == JsonValueKind.Object ? Str(format, "format_name") ?? "unknown" : "unknown";
        var seconds = format.ValueKind == JsonValueKind.Object ? Double(format, "duration") : null;
        if (seconds is null && list.ValueKind == JsonValueKind.Array)
        {
            seconds = list.EnumerateArray().Select(s => Double(s, "duration")).Max();
        }

        return new MediaInfo(container, TimeSpan.FromSeconds(seconds ?? 0), sizeBytes, streams);
    }

    private MediaRejected? CheckLimits(MediaInfo info)
    {
        if (info.Video is null && info.Audio is null)
        {
            return new MediaRejected("The file has no audio or video stream.");
        }

        if (info.Duration <= TimeSpan.Zero)
        {
            return new MediaRejected("The file has no duration: it holds no playable media.");
        }

        if (info.Duration < options.MinDuration)
        {
            return new MediaRejected($"The media lasts {info.Duration.TotalSeconds:0.###} s, shorter than the minimum of {options.MinDuration.TotalSeconds:0.###} s.");
        }

        if (info.Duration > options.MaxDuration)
        {
            return new MediaRejected($"The media lasts {info.Duration:g}, over the limit of {options.MaxDuration:g}.");
        }

        if (info.Streams.Count > options.MaxStreams)
        {
            return new MediaRejected($"The file has {info.Streams.Count} streams, over the limit of {options.MaxStreams}.");
        }

        foreach (var v in info.Streams.Where(s => s.Kind == StreamKind.Video))
        {
            if (v.Width > options.MaxWidth || v.Height > options.MaxHeight)
            {
                return new MediaRejected($"The video is {v.Width}x{v.Height}, over the limit of {options.MaxWidth}x{options.MaxHeight}.");
            }

            if (v.FrameRate > options.MaxFrameRate)
            {
                return new MediaRejected($"The video runs at {v.FrameRate:0.##} frames per second, over the limit of {options.MaxFrameRate:0.##}.");
            }

            if (v.Width is null or <= 0 || v.Height is null or <= 0)
            {
                return new MediaRejected("The video stream has no picture size.");
            }
        }

        return null;
    }

    /// <summary>Decodes everything once, stopping at the first error, and compares how far decoding got with the probed length.</summary>
    private async Task<MediaRejected?> DecodeFullyAsync(string path, MediaInfo info, CancellationToken cancellationToken)
    {
        long decodedUs = 0;
        var run = await Tool.RunConfinedAsync(options, options.FfmpegPath, ToolAccess.Reading(path),
            ["-nostdin", "-v", "error", "-xerror", "-protocol_whitelist", "file", "-format_whitelist", options.AllowedContainers, "-max_pixels", options.MaxPixels, "-i", "file:" + path,
             "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
            line =>
            {
                if (line.StartsWith("out_time_us=", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan("out_time_us=".Length), NumberStyles.Integer, CultureInfo.InvariantCulture, out var us))
                {
                    decodedUs = Math.Max(decodedUs, us);
                }
            },
            cancellationToken);
        if (!run.Succeeded)
        {
            return new MediaRejected($"The file is damaged or truncated: decoding failed at {TimeSpan.FromMicroseconds(decodedUs):g} ({Anonymised(run.LastError, path)}).");
        }

        var decoded = TimeSpan.FromMicroseconds(decodedUs);
        var tolerance = TimeSpan.FromTicks(Math.Max(options.TruncationTolerance.Ticks, (long)(info.Duration.Ticks * options.TruncationTolerancePercent / 100)));
        if (info.Duration - decoded > tolerance)
        {
            return new MediaRejected($"The file is truncated: it claims {info.Duration:g} but only {decoded:g} could be decoded.");
        }

        return null;
    }

    /// <summary>A tool's message without the server's folder names (reasons are shown to the people who uploaded).</summary>
    private static string Anonymised(string message, string path) =>
        message.Replace("file:" + path, Path.GetFileName(path), StringComparison.Ordinal).Replace(path, Path.GetFileName(path), StringComparison.Ordinal);

    private static bool IsAttachedPicture(JsonElement s) =>
        s.TryGetProperty("disposition", out var d) && Int(d, "attached_pic") == 1;

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.Number when v.TryGetInt32(out var i) => i,
            JsonValueKind.String when int.TryParse(v.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) => i,
            _ => null,
        } : null;

    private static double? Double(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.Number => v.GetDouble(),
            JsonValueKind.String when double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            _ => null,
        } : null;

    /// <summary>ffprobe's rational "30000/1001"; "0/0" means unknown.</summary>
    private static double? Rate(string? rational) => Ratio(rational, '/');

    /// <summary>A ratio "a/b" or "a:b" as a number; null when unknown ("0/0", "0:1", "N/A").</summary>
    private static double? Ratio(string? rational, char separator)
    {
        if (rational is null)
        {
            return null;
        }

        var parts = rational.Split(separator);
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            && d > 0 && n > 0)
        {
            return n / d;
        }

        return null;
    }
}
