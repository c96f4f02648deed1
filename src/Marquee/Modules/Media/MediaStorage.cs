using Marquee.Platform;
using Microsoft.Extensions.Options;

namespace Marquee.Media;

/// <summary>Where media lives on local disk: sources under <c>&lt;DataDir&gt;/media/sources</c>, published titles under <c>&lt;DataDir&gt;/media/published</c>.</summary>
internal sealed class MediaStorage(IOptions<MarqueeOptions> options)
{
    public string Root { get; } = Path.Combine(options.Value.FullDataDir, "media");

    /// <summary>Uploaded sources; the only folder the probe and transcoder read from.</summary>
    public string Sources => Path.Combine(Root, "sources");

    /// <summary>Published titles, one folder per asset (and <c>&lt;asset&gt;.staging</c> folders while one is being made).</summary>
    public string Published => Path.Combine(Root, "published");

    /// <summary>Deletes staging folders left by a run that did not finish (a crash or a kill); returns how many.</summary>
    public int SweepStaging()
    {
        if (!Directory.Exists(Published))
        {
            return 0;
        }

        var stale = Directory.GetDirectories(Published, "*" + Packager.StagingSuffix);
        foreach (var folder in stale)
        {
            Packager.DeleteQuietly(folder);
        }

        return stale.Length;
    }
}
