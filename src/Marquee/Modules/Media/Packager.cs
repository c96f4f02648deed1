using Microsoft.Extensions.Logging;

namespace Marquee.Media;

/// <summary>A title packaged and published: its folder, master playlist and the ladder it got.</summary>
internal sealed record PackagedAsset(string Folder, string MasterPlaylist, string? Poster, LadderPlan Ladder);

/// <summary>
/// Transcode, poster, encryption and publication of one asset. Everything is written into <c>&lt;root&gt;/&lt;asset&gt;.staging/</c>
/// and published by one rename to <c>&lt;root&gt;/&lt;asset&gt;/</c> only when every step succeeded, so no half-written or
/// unencrypted rendition is ever published; a failed or cancelled run deletes its staging folder.
/// </summary>
internal sealed class Packager(Transcoder transcoder, ILogger<Packager> logger)
{
    private readonly ThumbnailSprites sprites = new(transcoder.Options);

    public const string StagingSuffix = ".staging";

    public static string PublishedFolder(string root, Guid assetId) => Path.Combine(root, assetId.ToString("N"));

    public static string StagingFolder(string root, Guid assetId) => PublishedFolder(root, assetId) + StagingSuffix;

    public async Task<PackagedAsset> PackageAsync(Guid assetId, string sourcePath, MediaInfo info, string root, byte[] key,
        IProgress<TranscodeProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(info);
        var published = PublishedFolder(root, assetId);
        if (Directory.Exists(published))
        {
            throw new InvalidOperationException($"Asset {assetId} is published already.");
        }

        var staging = StagingFolder(root, assetId);
        DeleteQuietly(staging); // left over from a crash
        Directory.CreateDirectory(staging);
        try
        {
            var plan = transcoder.Plan(info);
            await transcoder.RunAsync(sourcePath, info, plan, staging, progress, cancellationToken);
            var master = Path.Combine(staging, "master.m3u8");
            // ffmpeg's HLS muxer exits 0 when a write fails (measured with ffmpeg 5.1 on a full disk: an empty playlist, a
            // cut segment): the output is checked whole before anything else is done with it.
            var incomplete = File.Exists(master) ? await IncompleteAsync(staging, info.Duration, cancellationToken) : "no master playlist";
            if (incomplete is not null)
            {
                var full = FreeBytes(staging) is { } free && free < 1024 * 1024;
                throw new TranscodeFailedException(full
                    ? $"No space left on the media volume: ffmpeg's output is incomplete ({incomplete})."
                    : $"ffmpeg's output is incomplete ({incomplete}).");
            }

            if (!plan.IsAudioOnly && plan.Audio.Count > 0)
            {
                var text = WithoutAudioOnlyVariant(await File.ReadAllTextAsync(master, cancellationToken));
                await File.WriteAllTextAsync(master, Renditions.DescribeAudio(text, plan), cancellationToken);
            }

            if (transcoder.MakesIFrames(plan))
            {
                await File.WriteAllTextAsync(master, IFrames.InMaster(await File.ReadAllTextAsync(master, cancellationToken)), cancellationToken);
                await IFrames.MarkPlaylistAsync(staging, cancellationToken);
            }

            await NameInitSegmentsAlikeAsync(staging, cancellationToken);

            string? poster = null;
            if (!plan.IsAudioOnly)
            {
                poster = Path.Combine(staging, "poster.jpg");
                await transcoder.PosterAsync(sourcePath, info, poster, cancellationToken);
                await sprites.MakeAsync(staging, plan, cancellationToken); // thumbnails.vtt + sprite_N.jpg, from the smallest rendition
            }

            await HlsEncryption.EncryptAsync(staging, key, HlsEncryption.KeyUriFor(assetId), cancellationToken);
            await SourceSubtitlesAsync(assetId, sourcePath, info, staging, cancellationToken); // after encryption: subtitles stay clear

            Directory.Move(staging, published); // the publication: one rename on one file system
            logger.LogInformation("Published asset {AssetId}: {Rungs} video and {Audio} audio renditions", assetId, plan.Video.Count, plan.Audio.Count);
            return new PackagedAsset(published, Path.Combine(published, "master.m3u8"),
                poster is null ? null : Path.Combine(published, "poster.jpg"), plan);
        }
        catch
        {
            DeleteQuietly(staging);
            throw;
        }
    }

    /// <summary>The source's text subtitle streams as WebVTT subtitle renditions of the package (bitmap ones are skipped, and logged).</summary>
    /// <summary>
    /// Why a transcode's output is not whole, or null: every playlist the master names (variants and audio renditions)
    /// exists and ends with <c>#EXT-X-ENDLIST</c>, every file a playlist names (init and media segments) exists and is not
    /// empty, and each playlist's segments last as long as the source (within 1 s and 2 %).
    /// </summary>
    internal static async Task<string?> IncompleteAsync(string folder, TimeSpan duration, CancellationToken cancellationToken)
    {
        var masterLines = await File.ReadAllLinesAsync(Path.Combine(folder, "master.m3u8"), cancellationToken);
        var playlists = masterLines.Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Concat(masterLines.Where(l => l.StartsWith("#EXT-X-MEDIA:", StringComparison.Ordinal)).Select(UriOf).OfType<string>())
            .Distinct(StringComparer.Ordinal).ToList();
        if (playlists.Count == 0)
        {
            return "the master playlist names no rendition";
        }

        var tolerance = TimeSpan.FromSeconds(1) + (duration * 0.02);
        foreach (var playlist in playlists)
        {
            var path = Path.GetFullPath(Path.Combine(folder, playlist));
            if (!path.StartsWith(Path.GetFullPath(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(path))
            {
                return $"{playlist} is missing";
            }

            var lines = await File.ReadAllLinesAsync(path, cancellationToken);
            if (!lines.Contains("#EXT-X-ENDLIST"))
            {
                return $"{playlist} is cut short";
            }

            var dir = Path.GetDirectoryName(path)!;
            var files = lines.Where(l => l.Length > 0 && !l.StartsWith('#'))
                .Concat(lines.Where(l => l.StartsWith("#EXT-X-MAP:", StringComparison.Ordinal)).Select(UriOf).OfType<string>());
            foreach (var file in files)
            {
                var full = Path.Combine(dir, file);
                if (!File.Exists(full) || new FileInfo(full).Length == 0)
                {
                    return $"{Path.GetRelativePath(folder, full)} is missing or empty";
                }
            }

            var seconds = lines.Where(l => l.StartsWith("#EXTINF:", StringComparison.Ordinal))
                .Sum(l => double.TryParse(l["#EXTINF:".Length..].Split(',')[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) ? d : 0);
            if (TimeSpan.FromSeconds(seconds) < duration - tolerance)
            {
                return $"{playlist} lasts {seconds:0.0} s of the source's {duration.TotalSeconds:0.0} s";
            }
        }

        return null;

        static string? UriOf(string line)
        {
            var at = line.IndexOf("URI=\"", StringComparison.Ordinal);
            return at < 0 ? null : line[(at + 5)..].Split('"')[0];
        }
    }

    private static long? FreeBytes(string folder)
    {
        try
        {
            return new DriveInfo(folder).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private async Task SourceSubtitlesAsync(Guid assetId, string sourcePath, MediaInfo info, string staging, CancellationToken cancellationToken)
    {
        if (!info.Streams.Any(s => s.Kind == StreamKind.Subtitle))
        {
            return;
        }

        var (made, skipped) = await new SubtitleTool(transcoder.Options)
            .ExtractAsync(sourcePath, info, Path.Combine(staging, Renditions.SubtitleFolder), cancellationToken);
        foreach (var reason in skipped)
        {
            logger.LogInformation("Asset {AssetId}: subtitle {Reason}", assetId, reason);
        }

        if (made.Count > 0)
        {
            await SubtitlePackage.ApplyAsync(staging, made, [], cancellationToken);
        }
    }

    /// <summary>
    /// ffmpeg 5.1 lists the audio group's own playlist as a variant of its own (a STREAM-INF with audio codecs only) beside the
    /// video variants; a player could pick it and show no picture, so it goes. The group (EXT-X-MEDIA) stays.
    /// </summary>
    internal static string WithoutAudioOnlyVariant(string master)
    {
        var lines = master.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var kept = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal) && !lines[i].Contains("RESOLUTION=", StringComparison.Ordinal))
            {
                i++; // and its URI line
                continue;
            }

            kept.Add(lines[i]);
        }

        return string.Join('\n', kept);
    }

    /// <summary>
    /// ffmpeg 5.1 numbers the init segment of each variant (init_0.mp4, init_1.mp4 ...) even though each lives in a folder of
    /// its own; every variant's is renamed init.mp4 so that Delivery and caches see one shape.
    /// </summary>
    private static async Task NameInitSegmentsAlikeAsync(string staging, CancellationToken cancellationToken)
    {
        foreach (var playlist in HlsEncryption.MediaPlaylists(staging))
        {
            var dir = Path.GetDirectoryName(playlist)!;
            var text = await File.ReadAllTextAsync(playlist, cancellationToken);
            var map = System.Text.RegularExpressions.Regex.Match(text, "#EXT-X-MAP:URI=\"([^\"/]+)\"");
            if (!map.Success || map.Groups[1].Value == "init.mp4")
            {
                continue;
            }

            File.Move(Path.Combine(dir, map.Groups[1].Value), Path.Combine(dir, "init.mp4"));
            await File.WriteAllTextAsync(playlist, text.Replace(map.Value, "#EXT-X-MAP:URI=\"init.mp4\"", StringComparison.Ordinal), cancellationToken);
        }
    }

    internal static void DeleteQuietly(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (IOException)
        {
            // best effort; the next run or start-up sweeps it
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
