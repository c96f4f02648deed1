using System.Text.RegularExpressions;

namespace Marquee.Media;

/// <summary>
/// R31: a job's failure reason as people see it (the jobs API and the media console, the library's note, the command
/// line's wait): one line of at most <see cref="MaxLength"/> characters with no server path in it. A tool's error line or
/// an exception's message often names a path (ffmpeg: <c>file:/srv/marquee/media/sources/….mp4: No such file or
/// directory</c>; .NET: <c>Could not find a part of the path '/tmp/…'</c>): the folders are cut away and the file name
/// kept, so the reason still says which file and what went wrong. Applied when a reason is written and again when it is
/// read (reasons written before this existed).
/// </summary>
internal static partial class FailureReason
{
    public const int MaxLength = 2000;

    /// <summary>
    /// An absolute path (optionally ffmpeg's <c>file:</c> prefix) of at least one folder and a last part: not after a word
    /// character, <c>/</c> or <c>:</c>, so fractions (<c>1/2</c>), relative names (<c>720p/index.m3u8</c>) and URLs stay.
    /// </summary>
    [GeneratedRegex(@"(?<![\w./:~-])(?:file:)?/(?:[^\s/'""`:,;()<>\[\]{}|]+/)+(?<name>[^\s/'""`:,;()<>\[\]{}|]*)", RegexOptions.CultureInvariant)]
    private static partial Regex AbsolutePath();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Space();

    /// <summary>
    /// <paramref name="reason"/> on one line, without server paths (<paramref name="roots"/>, the folders Marquee knows
    /// it uses, are removed first, so a path with a space in a folder name goes too; then any absolute path is cut to its
    /// last part), at most <see cref="MaxLength"/> characters. Null stays null.
    /// </summary>
    public static string? ForPeople(string? reason, params IEnumerable<string?> roots)
    {
        if (string.IsNullOrEmpty(reason))
        {
            return reason;
        }

        var text = reason;
        foreach (var root in roots.Select(r => Path.TrimEndingDirectorySeparator(r ?? "")).Where(r => r.Length > 1).Distinct().OrderByDescending(r => r.Length))
        {
            // The root and every folder after it (a folder name may hold a space), up to the last part.
            text = Regex.Replace(text, "(?:file:)?" + Regex.Escape(root) + @"/(?:[^/\n'"":]*/)*", "", RegexOptions.CultureInvariant);
        }

        text = AbsolutePath().Replace(text, m => m.Groups["name"].Value);
        text = Space().Replace(text, " ").Trim();
        return text.Length > MaxLength ? text[..(MaxLength - 1)] + "…" : text;
    }
}
