using System.Globalization;
using Marquee.Catalog.Contracts;
using Marquee.Media.Data;
using Marquee.Platform.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Media;

/// <summary>
/// Media for <c>marquee demo</c>: for every demo title without a source, a short programme made by ffmpeg's own test
/// sources (moving patterns with a tone for films and episodes, tones for tracks and podcasts), queued through the
/// real pipeline so that a newcomer sees real transcoding and real playback. Nothing is downloaded.
/// </summary>
internal sealed partial class MediaDemo(
    ICatalog catalog, MediaDb db, MediaStorage storage, IOptions<MediaOptions> options, IServiceScopeFactory scopes,
    IHostApplicationLifetime lifetime, ILogger<MediaDemo> logger) : IDemoContent
{
    // Cheap to generate (a mandelbrot or testsrc take ten times longer on a small machine); hue turns tell them apart.
    private static readonly string[] Pictures =
    [
        "testsrc2=size=1280x720:rate=25",
        "smptehdbars=size=1280x720:rate=25",
        "testsrc2=size=1280x720:rate=25,hue=h=120",
        "testsrc2=size=1280x720:rate=25,hue=h=240",
    ];

    private const int Seconds = 20;

    /// <summary>Album tracks are shorter, so that a listener hears the player move on to the next one soon.</summary>
    private const int TrackSeconds = 12;

    /// <summary>Finds the titles without a source and makes theirs in the background, so the site is up at once.</summary>
    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        var titles = await catalog.NewestAsync(100, cancellationToken);
        var withSources = await db.Assets.Select(a => a.TitleId).Distinct().ToListAsync(cancellationToken);
        var missing = titles.Where(t => !withSources.Contains(t.Id)).OrderBy(t => t.CreatedAt).ToList();
        if (missing.Count > 0)
        {
            // Not durable on purpose: a title whose programme was not made yet is found again at the next start.
            _ = Task.Run(() => MakeAllAsync(missing, lifetime.ApplicationStopping), CancellationToken.None);
        }
    }

    private async Task MakeAllAsync(IReadOnlyList<TitleSummary> titles, CancellationToken cancellationToken)
    {
        var index = 0;
        foreach (var title in titles)
        {
            index++;
            try
            {
                var audioOnly = title.Kind is TitleKind.Track or TitleKind.Podcast;
                var name = $"demo-{title.Slug}{(audioOnly ? ".m4a" : ".mp4")}";
                Directory.CreateDirectory(storage.Sources);
                var path = Path.Combine(storage.Sources, name);
                var part = Path.Combine(storage.Sources, $"{Path.GetFileNameWithoutExtension(name)}.part{Path.GetExtension(name)}");
                var run = await Tool.RunConfinedAsync(options.Value, options.Value.FfmpegPath, ToolAccess.WritingOnly(storage.Sources), Arguments(audioOnly, title.Kind == TitleKind.Track ? TrackSeconds : Seconds, index, part), null, cancellationToken);
                if (!run.Succeeded)
                {
                    LogNotMade(title.Name, run.LastError);
                    continue;
                }

                File.Move(part, path, overwrite: true);
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<Assets>().ReceiveAsync(title.Id, name, cancellationToken);
                LogQueued(title.Name);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private static List<string> Arguments(bool audioOnly, int seconds, int index, string path)
    {
        var frequency = (220 * (1 + (index % 5))).ToString(CultureInfo.InvariantCulture);
        var duration = seconds.ToString(CultureInfo.InvariantCulture);
        List<string> args = ["-v", "error", "-y"];
        if (audioOnly)
        {
            // A slowly beating chord, so the loudness normalisation and the audio ladder have something to chew on.
            args.AddRange(["-f", "lavfi", "-i", $"aevalsrc=0.25*sin(2*PI*{frequency}*t)+0.15*sin(2*PI*{frequency}*1.5*t)*(0.6+0.4*sin(2*PI*0.5*t)):s=48000:c=stereo",
                "-t", duration, "-c:a", "aac", "-b:a", "192k", path]);
            return args;
        }

        args.AddRange(["-f", "lavfi", "-i", Pictures[index % Pictures.Length], "-f", "lavfi", "-i", $"sine=frequency={frequency}:sample_rate=48000",
            "-t", duration, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest", path]);
        return args;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo: queued a generated programme for '{Title}'")]
    private partial void LogQueued(string title);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Demo: could not make a programme for '{Title}': {Error}")]
    private partial void LogNotMade(string title, string error);
}
