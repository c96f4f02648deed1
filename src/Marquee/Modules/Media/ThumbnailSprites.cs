using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Marquee.Media;

/// <summary>
/// The plan of a title's scrubbing thumbnails: one tile every <see cref="IntervalSeconds"/> of the programme, laid out
/// <see cref="Columns"/> x <see cref="Rows"/> on JPEG sprite sheets of <see cref="TileWidth"/> x <see cref="TileHeight"/> tiles.
/// </summary>
internal sealed record SpritePlan(double DurationSeconds, double IntervalSeconds, int Tiles)
{
    public const int TileWidth = 160;
    public const int TileHeight = 90;
    public const int Columns = 10;
    public const int Rows = 10;
    public const int TilesPerSheet = Columns * Rows;

    public int Sheets => (Tiles + TilesPerSheet - 1) / TilesPerSheet;

    public static string SheetName(int sheet) => $"sprite_{sheet.ToString(CultureInfo.InvariantCulture)}.jpg";

    /// <summary>A tile every 2 s up to two minutes, 5 s up to ten, 10 s beyond (a two-hour film: 720 tiles, 8 sheets).</summary>
    public static SpritePlan For(double durationSeconds)
    {
        var duration = Math.Max(0.001, durationSeconds);
        var interval = duration <= 120 ? 2.0 : duration <= 600 ? 5.0 : 10.0;
        var tiles = Math.Max(1, (int)Math.Ceiling((duration / interval) - 1e-9));
        return new SpritePlan(duration, interval, tiles);
    }

    /// <summary>The WebVTT track: one cue per tile, back to back from 0 to the end, naming its sheet and rectangle (<c>#xywh=</c>).</summary>
    public string WebVtt()
    {
        var vtt = new StringBuilder("WEBVTT\n");
        for (var i = 0; i < Tiles; i++)
        {
            var start = i * IntervalSeconds;
            var end = i == Tiles - 1 ? DurationSeconds : Math.Min(DurationSeconds, (i + 1) * IntervalSeconds);
            var cell = i % TilesPerSheet;
            var x = cell % Columns * TileWidth;
            var y = cell / Columns * TileHeight;
            vtt.Append('\n')
                .Append(Timestamp(start)).Append(" --> ").Append(Timestamp(end)).Append('\n')
                .Append(CultureInfo.InvariantCulture, $"{SheetName(i / TilesPerSheet)}#xywh={x},{y},{TileWidth},{TileHeight}\n");
        }

        return vtt.ToString();
    }

    internal static string Timestamp(double seconds)
    {
        var ms = (long)Math.Round(seconds * 1000);
        return string.Create(CultureInfo.InvariantCulture, $"{ms / 3_600_000:00}:{ms / 60_000 % 60:00}:{ms / 1000 % 60:00}.{ms % 1000:000}");
    }
}

/// <summary>
/// Makes a package's scrubbing thumbnails in the staging folder: <c>sprite_N.jpg</c> sheets and <c>thumbnails.vtt</c>
/// beside the master playlist, before encryption and publication.
/// </summary>
/// <remarks>
/// The tiles are cut from the package's smallest video rendition (e.g. 240p), not from the source: the source was
/// decoded once already by the ladder, may be 4K HEVC and cost that again, whereas decoding a 240p H.264 rendition
/// runs at hundreds of times real time on one core. <c>-skip_frame nokey</c> on the source would be cheaper still but
/// gives only the source's own keyframes, which may be 10 s or more apart and irregular; the rendition's frames give
/// a tile exactly every interval. The rendition's playlist also gives the exact video duration the tiles must cover.
/// </remarks>
internal sealed partial class ThumbnailSprites(MediaOptions options)
{
    public const string TrackName = Contracts.PackagedTitle.ThumbnailTrack;

    /// <summary>Writes the sheets and the track for <paramref name="plan"/>'s smallest rendition; returns the sprite plan.</summary>
    public async Task<SpritePlan> MakeAsync(string staging, LadderPlan plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var smallest = plan.Video.OrderBy(v => v.Height).First();
        var playlist = Path.Combine(staging, smallest.Name, "index.m3u8");
        var sprites = SpritePlan.For(PlaylistSeconds(await File.ReadAllTextAsync(playlist, cancellationToken)));
        var interval = sprites.IntervalSeconds.ToString(CultureInfo.InvariantCulture);
        var filter = $"fps=1/{interval}:round=near,scale={SpritePlan.TileWidth}:{SpritePlan.TileHeight}:force_original_aspect_ratio=decrease," +
                     $"pad={SpritePlan.TileWidth}:{SpritePlan.TileHeight}:(ow-iw)/2:(oh-ih)/2,setsar=1,tile={SpritePlan.Columns}x{SpritePlan.Rows}";
        var run = await Tool.RunConfinedAsync(options, options.FfmpegPath, ToolAccess.WritingOnly(staging),
            ["-nostdin", "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", "hls,mov,mp4,m4a", "-threads", "1",
             "-i", "file:" + playlist, "-map", "0:v:0", "-an", "-vf", filter, "-q:v", "5", "-start_number", "0", "-y",
             "file:" + Path.Combine(staging, "sprite_%d.jpg")],
            null, cancellationToken, staging);
        if (!run.Succeeded || !File.Exists(Path.Combine(staging, SpritePlan.SheetName(sprites.Sheets - 1))))
        {
            throw new TranscodeFailedException($"The thumbnail sprites could not be made: {run.LastError}");
        }

        await File.WriteAllTextAsync(Path.Combine(staging, TrackName), sprites.WebVtt(), cancellationToken);
        return sprites;
    }

    /// <summary>The sum of a media playlist's <c>#EXTINF</c> durations.</summary>
    internal static double PlaylistSeconds(string playlist) =>
        ExtInf().Matches(playlist).Sum(m => double.Parse(m.Groups[1].ValueSpan, NumberStyles.Float, CultureInfo.InvariantCulture));

    [GeneratedRegex(@"#EXTINF:([0-9.]+)")]
    private static partial Regex ExtInf();
}
