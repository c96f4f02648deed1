using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Marquee.Media;

/// <summary>A WebVTT subtitle rendition of a package: its id (also its file names), BCP 47 language, display name and where it came from.</summary>
internal sealed record SubtitleRendition(string Id, string Language, string Name, string Origin, string File)
{
    public const string FromSource = "source";
    public const string FromUpload = "upload";
}

/// <summary>
/// The alternate renditions of a master playlist: audio languages (EXT-X-MEDIA TYPE=AUDIO, rewritten from what ffmpeg 5.1 writes)
/// and WebVTT subtitles (EXT-X-MEDIA TYPE=SUBTITLES in the group <see cref="SubtitleGroup"/>, named by every variant). Pure text work.
/// </summary>
internal static partial class Renditions
{
    public const string SubtitleGroup = "subs";

    /// <summary>The folder of a package holding subtitle playlists and their WebVTT files.</summary>
    public const string SubtitleFolder = "subtitles";

    /// <summary>
    /// ffmpeg 5.1 names each audio rendition <c>audio_N</c> and marks every one DEFAULT=YES; each gets a person's name for its language
    /// (or the stream's title), its BCP 47 LANGUAGE, AUTOSELECT, and DEFAULT=YES only on the plan's default.
    /// </summary>
    public static string DescribeAudio(string master, LadderPlan plan)
    {
        ArgumentNullException.ThrowIfNull(master);
        ArgumentNullException.ThrowIfNull(plan);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var lines = master.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (!lines[i].StartsWith("#EXT-X-MEDIA:TYPE=AUDIO,", StringComparison.Ordinal))
            {
                continue;
            }

            var uri = UriOf(lines[i]);
            var group = GroupPattern().Match(lines[i]).Groups[1].Value;
            var rung = plan.Audio.FirstOrDefault(r => uri is not null && uri.StartsWith(r.Name + "/", StringComparison.Ordinal));
            if (rung is null || uri is null)
            {
                continue;
            }

            var language = Bcp47FromTag(rung.Language);
            var name = Unique(names, DisplayName(rung.Title, language, $"Audio {rung.SourceIndex + 1}"));
            var attributes = new StringBuilder($"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{group}\"");
            if (language is not null)
            {
                attributes.Append(CultureInfo.InvariantCulture, $",LANGUAGE=\"{language}\"");
            }

            attributes.Append(CultureInfo.InvariantCulture, $",NAME=\"{Quoted(name)}\",DEFAULT={(rung.IsDefault ? "YES" : "NO")},AUTOSELECT=YES,CHANNELS=\"2\",URI=\"{uri}\"");
            lines[i] = attributes.ToString();
        }

        return string.Join('\n', lines);
    }

    /// <summary>
    /// The master with exactly <paramref name="subtitles"/> as its subtitle renditions: former ones and SUBTITLES attributes go, and
    /// (when there are any) one EXT-X-MEDIA line each is put before the first variant and every variant names the group.
    /// </summary>
    public static string WithSubtitles(string master, IReadOnlyList<SubtitleRendition> subtitles)
    {
        ArgumentNullException.ThrowIfNull(master);
        ArgumentNullException.ThrowIfNull(subtitles);
        var output = new List<string>();
        var inserted = false;
        foreach (var line in master.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n').Split('\n'))
        {
            if (line.StartsWith("#EXT-X-MEDIA:TYPE=SUBTITLES,", StringComparison.Ordinal))
            {
                continue;
            }

            if (line.StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal))
            {
                if (!inserted)
                {
                    output.AddRange(subtitles.Select((s, i) =>
                        $"#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{SubtitleGroup}\",LANGUAGE=\"{s.Language}\",NAME=\"{Quoted(s.Name)}\",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI=\"{SubtitleFolder}/{s.Id}.m3u8\""));
                    inserted = true;
                }

                var bare = SubtitlesAttribute().Replace(line, "");
                output.Add(subtitles.Count > 0 ? bare + $",SUBTITLES=\"{SubtitleGroup}\"" : bare);
                continue;
            }

            output.Add(line);
        }

        return string.Join('\n', output) + "\n";
    }

    /// <summary>A media playlist of one segment, the whole WebVTT file, lasting <paramref name="duration"/>.</summary>
    public static string SubtitlePlaylist(string vttFile, TimeSpan duration)
    {
        var seconds = Math.Max(1, duration.TotalSeconds);
        var target = (int)Math.Ceiling(seconds);
        return "#EXTM3U\n#EXT-X-VERSION:7\n" +
               $"#EXT-X-TARGETDURATION:{target.ToString(CultureInfo.InvariantCulture)}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n" +
               $"#EXTINF:{seconds.ToString("0.000", CultureInfo.InvariantCulture)},\n{vttFile}\n#EXT-X-ENDLIST\n";
    }

    /// <summary>
    /// A container's language tag (ISO 639-2 such as <c>eng</c> or <c>fre</c>, or already BCP 47) as a BCP 47 tag (<c>en</c>, <c>fr</c>);
    /// null when unknown (<c>und</c>, missing or not a language).
    /// </summary>
    public static string? Bcp47FromTag(string? tag)
    {
        if (string.IsNullOrWhiteSpace(tag) || tag is "und" or "zxx" or "mul" or "mis")
        {
            return null;
        }

        var t = tag.Trim().ToLowerInvariant();
        if (t.Length == 3 && t.All(char.IsAsciiLetterLower))
        {
            t = Bibliographic.GetValueOrDefault(t, t);
            var culture = CultureInfo.GetCultures(CultureTypes.NeutralCultures)
                .FirstOrDefault(c => c.ThreeLetterISOLanguageName == t && c.Name.Length > 0);
            return culture?.Name ?? t;
        }

        return NormalizeLanguage(tag);
    }

    /// <summary>A BCP 47 tag in its usual case (<c>en-GB</c>, <c>zh-Hant</c>, <c>pt-BR</c>), or null when it is not one.</summary>
    public static string? NormalizeLanguage(string? tag)
    {
        if (tag is null || !LanguagePattern().IsMatch(tag))
        {
            return null;
        }

        var parts = tag.Split('-');
        for (var i = 0; i < parts.Length; i++)
        {
            parts[i] = i == 0 ? parts[i].ToLowerInvariant()
                : parts[i].Length == 2 || (parts[i].Length == 3 && parts[i].All(char.IsAsciiDigit)) ? parts[i].ToUpperInvariant()
                : parts[i].Length == 4 && char.IsAsciiLetter(parts[i][0]) ? char.ToUpperInvariant(parts[i][0]) + parts[i][1..].ToLowerInvariant()
                : parts[i].ToLowerInvariant();
        }

        return string.Join('-', parts);
    }

    /// <summary>The stream's title if it has one, else the language's own name (<c>English</c>, <c>Français</c>), else <paramref name="fallback"/>.</summary>
    public static string DisplayName(string? title, string? language, string fallback)
    {
        if (!string.IsNullOrWhiteSpace(title))
        {
            return title.Trim();
        }

        if (language is not null)
        {
            try
            {
                var culture = CultureInfo.GetCultureInfo(language);
                if (!culture.Equals(CultureInfo.InvariantCulture) && culture.NativeName.Length > 0 && !culture.NativeName.StartsWith("Unknown", StringComparison.Ordinal))
                {
                    var native = culture.NativeName;
                    return char.ToUpper(native[0], culture) + native[1..];
                }
            }
            catch (CultureNotFoundException)
            {
                // a well-formed tag the runtime does not know: the tag itself is the name
            }

            return language;
        }

        return fallback;
    }

    private static string Unique(HashSet<string> taken, string name)
    {
        var candidate = name;
        for (var n = 2; !taken.Add(candidate); n++)
        {
            candidate = $"{name} ({n})";
        }

        return candidate;
    }

    /// <summary>A quoted-string attribute value may hold no double quote, CR or LF (RFC 8216 4.2).</summary>
    private static string Quoted(string value) => value.Replace('"', '\'').Replace('\r', ' ').Replace('\n', ' ');

    private static string? UriOf(string line)
    {
        var m = UriPattern().Match(line);
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>ISO 639-2/B codes (what Matroska and MP4 often carry) whose 639-2/T code differs.</summary>
    private static readonly Dictionary<string, string> Bibliographic = new(StringComparer.Ordinal)
    {
        ["alb"] = "sqi", ["arm"] = "hye", ["baq"] = "eus", ["bur"] = "mya", ["chi"] = "zho", ["cze"] = "ces", ["dut"] = "nld",
        ["fre"] = "fra", ["geo"] = "kat", ["ger"] = "deu", ["gre"] = "ell", ["ice"] = "isl", ["mac"] = "mkd", ["mao"] = "mri",
        ["may"] = "msa", ["per"] = "fas", ["rum"] = "ron", ["slo"] = "slk", ["tib"] = "bod", ["wel"] = "cym",
    };

    [GeneratedRegex("^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,5}$")]
    private static partial Regex LanguagePattern();

    [GeneratedRegex(",SUBTITLES=\"[^\"]*\"")]
    private static partial Regex SubtitlesAttribute();

    [GeneratedRegex("GROUP-ID=\"([^\"]*)\"")]
    private static partial Regex GroupPattern();

    [GeneratedRegex("URI=\"([^\"]*)\"")]
    private static partial Regex UriPattern();
}
