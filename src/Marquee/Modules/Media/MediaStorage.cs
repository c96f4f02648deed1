using Marquee.Platform;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Marquee.Media;

/// <summary>Where media lives on local disk: sources under <c>&lt;DataDir&gt;/media/sources</c>, published titles under <c>&lt;DataDir&gt;/media/published</c>.</summary>
internal sealed class MediaStorage(IOptions<MarqueeOptions> options)
{
    public string Root { get; } = Path.Combine(options.Value.FullDataDir, "media");

    /// <summary>Uploaded sources; the only folder the probe and transcoder read from.</summary>
    public string Sources => Path.Combine(Root, "sources");

    /// <summary>The server's folders a tool's message may name (the data folder, the media store, the temp folder): cut from failure reasons (<see cref="FailureReason"/>).</summary>
    public IReadOnlyList<string> ServerFolders => [Root, options.Value.FullDataDir, Path.GetTempPath()];

    /// <summary>Published titles, one folder per asset (and <c>&lt;asset&gt;.staging</c> folders while one is being made).</summary>
    public string Published => Path.Combine(Root, "published");

    /// <summary>The staging folders under the published folder, each with the asset it is for (null when the name is not an asset id).</summary>
    public IReadOnlyList<(Guid? AssetId, string Folder)> StagingFolders()
    {
        if (!Directory.Exists(Published))
        {
            return [];
        }

        return [.. Directory.GetDirectories(Published, "*" + Packager.StagingSuffix).Select(folder =>
        {
            var name = Path.GetFileName(folder);
            return (Guid.TryParseExact(name[..^Packager.StagingSuffix.Length], "N", out var id) ? (Guid?)id : null, folder);
        })];
    }
}

/// <summary>
/// The media store (<c>&lt;DataDir&gt;/media</c>, often a volume of its own): writable and with room. Full or under
/// <c>Marquee:Media:MinFreeDiskMb</c> is <c>Degraded</c>: playback of published titles goes on, transcodes fail and are
/// retried by the operator once space is freed (R4).
/// </summary>
internal sealed class MediaStoreHealthCheck(MediaStorage storage, IOptions<MediaOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Marquee.Platform.Hosting.FolderProbe.CheckAsync(storage.Root, "media store", options.Value.MinFreeDiskMb, "Marquee:Media:MinFreeDiskMb",
            "transcodes fail until space is freed; published titles still play", cancellationToken);
}
