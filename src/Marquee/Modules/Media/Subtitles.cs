using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Marquee.Media;

/// <summary>
/// ffmpeg's part in subtitles: WebVTT from a source's text subtitle streams (one run, one output per stream, nothing decoded
/// but the subtitles) and from an uploaded .srt or .vtt file (its demuxer named, the only one allowed). Always an argument list,
/// always files the caller placed inside the media store.
/// </summary>
internal sealed class SubtitleTool(MediaOptions options)
{
    /// <summary>Subtitle codecs that are text and convert to WebVTT; bitmap ones (PGS, DVD, DVB) do not.</summary>
    private static readonly HashSet<string> TextCodecs = new(StringComparer.Ordinal) { "subrip", "srt", "mov_text", "ass", "ssa", "webvtt", "text" };

    /// <summary>The header line every WebVTT file Marquee publishes carries: cue time 0 is media time 0 (fMP4 segments start there too).</summary>
    public const string TimestampMap = "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000";

    public static bool IsText(MediaStream stream) => stream.Kind == StreamKind.Subtitle && stream.Codec is { } c && TextCodecs.Contains(c);

    /// <summary>
    /// Writes <c>&lt;id&gt;.vtt</c> into <paramref name="folder"/> for each text subtitle stream of the source (at most
    /// <see cref="MediaOptions.MaxSubtitleTracks"/>); answers the renditions made and the streams skipped (bitmap, empty) with why.
    /// </summary>
    public async Task<(IReadOnlyList<SubtitleRendition> Made, IReadOnlyList<string> Skipped)> ExtractAsync(
        string sourcePath, MediaInfo info, string folder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(info);
        var skipped = new List<string>();
        var wanted = new List<(int SubtitleIndex, MediaStream Stream)>();
        var subtitleIndex = 0;
        foreach (var stream in info.Streams.Where(s => s.Kind == StreamKind.Subtitle))
        {
            if (!IsText(stream))
            {
                skipped.Add($"stream {stream.Index} ({stream.Codec ?? "unknown"}): bitmap or unknown subtitles are not converted to WebVTT");
            }
            else if (wanted.Count >= options.MaxSubtitleTracks)
            {
                skipped.Add($"stream {stream.Index}: over the limit of {options.MaxSubtitleTracks} subtitle tracks");
            }
            else
            {
                wanted.Add((subtitleIndex, stream));
            }

            subtitleIndex++;
        }

        if (wanted.Count == 0)
        {
            return ([], skipped);
        }

        Directory.CreateDirectory(folder);
        var args = new List<string> { "-nostdin", "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", options.AllowedContainers, "-i", "file:" + sourcePath };
        var outputs = new List<(string Id, MediaStream Stream, string Path)>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (index, stream) in wanted)
        {
            var language = Renditions.Bcp47FromTag(stream.Language) ?? "und";
            var id = language.ToLowerInvariant();
            for (var n = 2; !ids.Add(id); n++)
            {
                id = $"{language.ToLowerInvariant()}-{n}";
            }

            var path = Path.Combine(folder, id + ".vtt");
            outputs.Add((id, stream, path));
            args.AddRange(["-map", $"0:s:{index}", "-c:s", "webvtt", "-f", "webvtt", "-y", "file:" + path]);
        }

        var run = await Tool.RunConfinedAsync(options, options.FfmpegPath, ToolAccess.Reading(sourcePath, folder), args, null, cancellationToken);
        if (!run.Succeeded)
        {
            throw new TranscodeFailedException($"The subtitles could not be converted to WebVTT: {run.LastError}");
        }

        var made = new List<SubtitleRendition>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (id, stream, path) in outputs)
        {
            var text = File.Exists(path) ? await File.ReadAllTextAsync(path, cancellationToken) : "";
            if (!HasCues(text))
            {
                skipped.Add($"stream {stream.Index}: no cues");
                File.Delete(path);
                continue;
            }

            await File.WriteAllTextAsync(path, WithTimestampMap(text), new UTF8Encoding(false), cancellationToken);
            var language = Renditions.Bcp47FromTag(stream.Language) ?? "und";
            var name = Renditions.DisplayName(stream.Title, language == "und" ? null : language, $"Subtitles {made.Count + 1}");
            for (var n = 2; !names.Add(name); n++)
            {
                name = $"{name} ({n})";
            }

            made.Add(new SubtitleRendition(id, language, name, SubtitleRendition.FromSource, id + ".vtt"));
        }

        return (made, skipped);
    }

    /// <summary>
    /// Converts an uploaded file (<paramref name="format"/> <c>srt</c> or <c>webvtt</c>, the only demuxer ffmpeg may use on it) to
    /// WebVTT at <paramref name="outputPath"/>; answers why it cannot be, or null when it was.
    /// </summary>
    public async Task<string?> ConvertAsync(string inputPath, string format, string outputPath, CancellationToken cancellationToken)
    {
        if (format is not ("srt" or "webvtt"))
        {
            throw new ArgumentException("Only srt and webvtt are read.", nameof(format));
        }

        var run = await Tool.RunConfinedAsync(options, options.FfmpegPath, ToolAccess.Reading(inputPath, Path.GetDirectoryName(Path.GetFullPath(outputPath))),
            ["-nostdin", "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", format, "-f", format, "-i", "file:" + inputPath,
             "-map", "0:s:0", "-c:s", "webvtt", "-f", "webvtt", "-y", "file:" + outputPath],
            null, cancellationToken);
        if (!run.Succeeded)
        {
            return $"The file could not be read as {(format == "srt" ? "SubRip (.srt)" : "WebVTT (.vtt)")}: {run.LastError.Replace(inputPath, Path.GetFileName(inputPath), StringComparison.Ordinal)}";
        }

        var text = File.Exists(outputPath) ? await File.ReadAllTextAsync(outputPath, cancellationToken) : "";
        if (!HasCues(text))
        {
            return $"No subtitle cue could be read from the file: it is not {(format == "srt" ? "SubRip (.srt)" : "WebVTT (.vtt)")}, or it is empty.";
        }

        await File.WriteAllTextAsync(outputPath, WithTimestampMap(text), new UTF8Encoding(false), cancellationToken);
        return null;
    }

    internal static bool HasCues(string vtt) => vtt.Contains("-->", StringComparison.Ordinal);

    /// <summary>The WebVTT text with <see cref="TimestampMap"/> as its second header line (replacing any other).</summary>
    internal static string WithTimestampMap(string vtt)
    {
        var lines = vtt.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        lines.RemoveAll(l => l.StartsWith("X-TIMESTAMP-MAP=", StringComparison.Ordinal));
        if (lines.Count == 0 || !lines[0].TrimStart('\uFEFF').StartsWith("WEBVTT", StringComparison.Ordinal))
        {
            lines.Insert(0, "WEBVTT");
        }

        lines[0] = lines[0].TrimStart('\uFEFF');
        lines.Insert(1, TimestampMap);
        return string.Join('\n', lines);
    }
}

/// <summary>
/// The subtitle renditions of one package folder: <c>subtitles/&lt;id&gt;.m3u8</c> (one segment: the whole WebVTT file),
/// <c>subtitles/&lt;file&gt;.vtt</c>, and <c>subtitles/tracks.json</c> (every rendition made, from the source and uploaded).
/// Changing them writes new files first, then replaces the master playlist by a temporary file and a rename, so players and
/// Delivery (whose layout cache is keyed by the master's write time) see either the old package or the new one.
/// Subtitles are not encrypted: they are small and not the protected asset, and are served only through session tokens.
/// </summary>
internal static class SubtitlePackage
{
    private const string TracksFile = "tracks.json";

    private static readonly SemaphoreSlim Gate = new(1, 1);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>The renditions a package lists (sources whose language no upload replaces, then uploads), as recorded in it.</summary>
    public static async Task<IReadOnlyList<SubtitleRendition>> ReadAsync(string packageFolder, CancellationToken cancellationToken)
    {
        var path = Path.Combine(packageFolder, Renditions.SubtitleFolder, TracksFile);
        if (!File.Exists(path))
        {
            return [];
        }

        await using var stream = File.OpenRead(path);
        return await JsonSerializer.DeserializeAsync<List<SubtitleRendition>>(stream, Json, cancellationToken) ?? [];
    }

    /// <summary>
    /// Makes the package list its source renditions (kept as recorded, or <paramref name="sources"/> when given, for a package being
    /// made) and exactly <paramref name="uploads"/> (language, label, WebVTT file to copy in); an upload hides a source rendition of
    /// its language.
    /// </summary>
    public static async Task ApplyAsync(string packageFolder, IReadOnlyList<SubtitleRendition>? sources,
        IReadOnlyList<(string Language, string Label, string VttPath)> uploads, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uploads);
        await Gate.WaitAsync(cancellationToken);
        try
        {
            var folder = Path.Combine(packageFolder, Renditions.SubtitleFolder);
            var masterPath = Path.Combine(packageFolder, "master.m3u8");
            var recorded = await ReadAsync(packageFolder, cancellationToken);
            sources ??= [.. recorded.Where(r => r.Origin == SubtitleRendition.FromSource)];
            var duration = await DurationAsync(packageFolder, await File.ReadAllTextAsync(masterPath, cancellationToken), cancellationToken);
            Directory.CreateDirectory(folder);

            var uploaded = new List<SubtitleRendition>();
            foreach (var (language, label, vttPath) in uploads)
            {
                var bytes = await File.ReadAllBytesAsync(vttPath, cancellationToken);
                var id = "upload-" + language.ToLowerInvariant();
                var file = $"{id}-{Convert.ToHexStringLower(SHA256.HashData(bytes))[..12]}.vtt"; // a new name per content: .vtt files are cached as immutable
                if (!File.Exists(Path.Combine(folder, file)))
                {
                    await WriteAtomicallyAsync(Path.Combine(folder, file), bytes, cancellationToken);
                }

                uploaded.Add(new SubtitleRendition(id, language, label, SubtitleRendition.FromUpload, file));
            }

            foreach (var r in sources.Concat(uploaded))
            {
                await WriteAtomicallyAsync(Path.Combine(folder, r.Id + ".m3u8"), Encoding.UTF8.GetBytes(Renditions.SubtitlePlaylist(r.File, duration)), cancellationToken);
            }

            var listed = sources.Where(s => !uploaded.Any(u => string.Equals(u.Language, s.Language, StringComparison.OrdinalIgnoreCase)))
                .Concat(uploaded)
                .ToList();
            await WriteAtomicallyAsync(Path.Combine(folder, TracksFile), JsonSerializer.SerializeToUtf8Bytes(sources.Concat(uploaded).ToList(), Json), cancellationToken);
            var master = Renditions.WithSubtitles(await File.ReadAllTextAsync(masterPath, cancellationToken), listed);
            await WriteAtomicallyAsync(masterPath, Encoding.UTF8.GetBytes(master), cancellationToken);

            // Uploads no longer listed (deleted, or replaced by new content): their playlists and files go.
            var keep = new HashSet<string>(sources.Concat(uploaded).SelectMany(r => new[] { r.Id + ".m3u8", r.File }), StringComparer.Ordinal) { TracksFile };
            foreach (var stale in Directory.EnumerateFiles(folder, "upload-*").Where(f => !keep.Contains(Path.GetFileName(f))))
            {
                File.Delete(stale);
            }
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>The programme's length: the sum of the segment durations of the master's first variant.</summary>
    private static async Task<TimeSpan> DurationAsync(string packageFolder, string master, CancellationToken cancellationToken)
    {
        var lines = master.Split('\n', StringSplitOptions.TrimEntries);
        var index = Array.FindIndex(lines, l => l.StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal));
        var variant = index < 0 ? null : lines.Skip(index + 1).FirstOrDefault(l => l.Length > 0 && !l.StartsWith('#'));
        var path = variant is null ? null : Probe.InsideFolder(packageFolder, variant);
        if (path is null || !File.Exists(path))
        {
            return TimeSpan.Zero;
        }

        var seconds = 0.0;
        foreach (var line in await File.ReadAllLinesAsync(path, cancellationToken))
        {
            if (line.StartsWith("#EXTINF:", StringComparison.Ordinal)
                && double.TryParse(line.AsSpan(8).TrimEnd(',').ToString().Split(',')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var s))
            {
                seconds += s;
            }
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static async Task WriteAtomicallyAsync(string path, byte[] bytes, CancellationToken cancellationToken)
    {
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllBytesAsync(temp, bytes, cancellationToken);
        File.Move(temp, path, overwrite: true);
    }
}
