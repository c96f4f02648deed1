using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Marquee.Delivery;

/// <summary>
/// What Delivery needs to know of a published HLS package: its variants (height, playlist) and the files each
/// variant's playlist names, to leave out variants above a session's height limit and refuse their files.
/// </summary>
internal sealed partial class PackageLayout
{
    private static readonly string[] ServedExtensions = [".m3u8", ".m4s", ".mp4", ".vtt", ".jpg"];

    private PackageLayout(string root, string folder, string masterName, IReadOnlyList<Variant> variants, IReadOnlySet<string> alwaysAllowed)
    {
        Root = root;
        Folder = folder;
        MasterName = masterName;
        Variants = variants;
        AlwaysAllowed = alwaysAllowed;
    }

    /// <summary>The package root, full path.</summary>
    public string Root { get; }

    /// <summary>The master playlist's folder, full path: request paths are relative to it.</summary>
    public string Folder { get; }

    public string MasterName { get; }

    public IReadOnlyList<Variant> Variants { get; }

    /// <summary>Files of renditions without a height (audio, subtitles): never refused.</summary>
    private IReadOnlySet<string> AlwaysAllowed { get; }

    /// <param name="Playlist">Relative to <see cref="Folder"/>, with '/' separators.</param>
    /// <param name="Height">From RESOLUTION; null for audio-only variants.</param>
    /// <param name="Files">The playlist and every file it names, relative to <see cref="Folder"/>.</param>
    internal sealed record Variant(string Playlist, int? Height, IReadOnlySet<string> Files);

    public static PackageLayout Read(string root, string masterPlaylist)
    {
        var rootFull = Path.GetFullPath(root);
        var masterFull = Path.GetFullPath(Path.Combine(rootFull, masterPlaylist));
        if (!IsUnder(masterFull, rootFull))
        {
            throw new InvalidOperationException($"The master playlist {masterPlaylist} is outside the package {root}.");
        }

        var folder = Path.GetDirectoryName(masterFull)!;
        var variants = new List<Variant>();
        var others = new HashSet<string>(StringComparer.Ordinal);
        int? pendingHeight = null;
        var pendingStream = false;
        foreach (var raw in File.ReadLines(masterFull))
        {
            var line = raw.Trim();
            if (line.StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal))
            {
                pendingStream = true;
                pendingHeight = HeightOf(line);
            }
            else if (line.StartsWith("#EXT-X-I-FRAME-STREAM-INF:", StringComparison.Ordinal) && UriOf(line) is { } iframe && Normalize("", iframe) is { } iframePath)
            {
                variants.Add(new Variant(iframePath, HeightOf(line), FilesOf(folder, iframePath)));
            }
            else if (line.StartsWith("#EXT-X-MEDIA:", StringComparison.Ordinal) && UriOf(line) is { } media && Normalize("", media) is { } mediaPath)
            {
                others.UnionWith(FilesOf(folder, mediaPath));
            }
            else if (pendingStream && line.Length > 0 && !line.StartsWith('#'))
            {
                if (Normalize("", line) is { } playlist)
                {
                    variants.Add(new Variant(playlist, pendingHeight, FilesOf(folder, playlist)));
                }

                pendingStream = false;
                pendingHeight = null;
            }
        }

        foreach (var v in variants.Where(v => v.Height is null))
        {
            others.UnionWith(v.Files);
        }

        return new PackageLayout(rootFull, folder, Path.GetFileName(masterFull), variants, others);
    }

    /// <summary>Files a session limited to <paramref name="maxHeight"/> may not fetch: those only taller variants use.</summary>
    public IReadOnlySet<string> RefusedFiles(int? maxHeight) =>
        maxHeight is { } max ? refusedByHeight.GetOrAdd(max, ComputeRefused) : NoneRefused;

    private static readonly IReadOnlySet<string> NoneRefused = new HashSet<string>();

    /// <summary>Per height limit, computed once (a layout is read once per master playlist version and never changes).</summary>
    private readonly ConcurrentDictionary<int, IReadOnlySet<string>> refusedByHeight = new();

    private HashSet<string> ComputeRefused(int max)
    {
        var refused = new HashSet<string>(Variants.Where(v => v.Height > max).SelectMany(v => v.Files), StringComparer.Ordinal);
        refused.ExceptWith(Variants.Where(v => v.Height is null || v.Height <= max).SelectMany(v => v.Files));
        refused.ExceptWith(AlwaysAllowed);
        return refused;
    }

    /// <summary>The master playlist without variants taller than <paramref name="maxHeight"/>.</summary>
    public string RewriteMaster(int? maxHeight, string keyUrl)
    {
        var output = new StringBuilder();
        var skipNextUri = false;
        foreach (var raw in File.ReadLines(Path.Combine(Folder, MasterName)))
        {
            var line = raw.TrimEnd();
            if (skipNextUri)
            {
                if (line.Length > 0 && !line.StartsWith('#'))
                {
                    skipNextUri = false;
                }

                continue;
            }

            if (line.StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal) && HeightOf(line) > maxHeight)
            {
                skipNextUri = true;
                continue;
            }

            if (line.StartsWith("#EXT-X-I-FRAME-STREAM-INF:", StringComparison.Ordinal) && HeightOf(line) > maxHeight)
            {
                continue;
            }

            output.Append(RewriteKey(line, keyUrl)).Append('\n');
        }

        return output.ToString();
    }

    /// <summary>A media playlist with every key URI pointing at the session's key address.</summary>
    public static string RewriteMedia(string fullPath, string keyUrl)
    {
        var output = new StringBuilder();
        foreach (var raw in File.ReadLines(fullPath))
        {
            output.Append(RewriteKey(raw.TrimEnd(), keyUrl)).Append('\n');
        }

        return output.ToString();
    }

    /// <summary>
    /// A request path (relative to <see cref="Folder"/>) as a safe relative path, or null: no empty, <c>.</c> or <c>..</c>
    /// segments, no backslash, colon or percent sign, only served file types, and the full path under the package root.
    /// </summary>
    public string? Resolve(string requestPath, out string? fullPath)
    {
        fullPath = null;
        if (Normalize("", requestPath) is not { } relative
            || !ServedExtensions.Contains(Path.GetExtension(relative).ToLowerInvariant()))
        {
            return null;
        }

        var full = Path.GetFullPath(Path.Combine(Folder, relative.Replace('/', Path.DirectorySeparatorChar)));
        if (!IsUnder(full, Root))
        {
            return null;
        }

        fullPath = full;
        return relative;
    }

    private static bool IsUnder(string full, string root) =>
        full.StartsWith(root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The files a playlist names (and itself), relative to the master's folder.</summary>
    private static HashSet<string> FilesOf(string folder, string playlist)
    {
        var files = new HashSet<string>(StringComparer.Ordinal) { playlist };
        var full = Path.Combine(folder, playlist.Replace('/', Path.DirectorySeparatorChar));
        if (!File.Exists(full))
        {
            return files;
        }

        var baseDir = playlist.Contains('/', StringComparison.Ordinal) ? playlist[..playlist.LastIndexOf('/')] : "";
        foreach (var raw in File.ReadLines(full))
        {
            var line = raw.Trim();
            var uri = line.StartsWith("#EXT-X-MAP:", StringComparison.Ordinal) ? UriOf(line)
                : line.Length > 0 && !line.StartsWith('#') ? line
                : null;
            if (uri is not null && Normalize(baseDir, uri) is { } file)
            {
                files.Add(file);
            }
        }

        return files;
    }

    /// <summary>A relative URI resolved against a base folder, as a '/'-separated path without dot segments; null when unsafe or absolute.</summary>
    private static string? Normalize(string baseDir, string uri)
    {
        var path = uri.Split('?', '#')[0];
        if (path.Length == 0 || path.StartsWith('/') || path.Contains('\\', StringComparison.Ordinal)
            || path.Contains(':', StringComparison.Ordinal) || path.Contains('%', StringComparison.Ordinal) || path.Contains('\0', StringComparison.Ordinal))
        {
            return null;
        }

        var segments = new List<string>(baseDir.Length == 0 ? [] : baseDir.Split('/'));
        foreach (var segment in path.Split('/'))
        {
            if (segment.Length == 0 || segment == "." || segment == "..")
            {
                return null;
            }

            segments.Add(segment);
        }

        return string.Join('/', segments);
    }

    private static int? HeightOf(string line)
    {
        var m = ResolutionPattern().Match(line);
        return m.Success ? int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture) : null;
    }

    private static string? UriOf(string line)
    {
        var m = UriPattern().Match(line);
        return m.Success ? m.Groups[1].Value : null;
    }

    private static string RewriteKey(string line, string keyUrl) =>
        (line.StartsWith("#EXT-X-KEY:", StringComparison.Ordinal) || line.StartsWith("#EXT-X-SESSION-KEY:", StringComparison.Ordinal))
        && !line.Contains("METHOD=NONE", StringComparison.Ordinal)
            ? UriPattern().Replace(line, $"URI=\"{keyUrl}\"", 1)
            : line;

    [GeneratedRegex(@"RESOLUTION=\d+x(\d+)")]
    private static partial Regex ResolutionPattern();

    [GeneratedRegex("URI=\"([^\"]*)\"")]
    private static partial Regex UriPattern();
}

/// <summary>Package layouts read once per master playlist version (a published package does not change).</summary>
internal sealed class PackageLayouts
{
    private readonly ConcurrentDictionary<(string Master, DateTime Written), PackageLayout> cache = new();

    public PackageLayout For(string root, string masterPlaylist)
    {
        var master = Path.GetFullPath(Path.Combine(root, masterPlaylist));
        var written = File.GetLastWriteTimeUtc(master);
        if (cache.Count > 1000)
        {
            cache.Clear();
        }

        return cache.GetOrAdd((master, written), _ => PackageLayout.Read(root, masterPlaylist));
    }
}
