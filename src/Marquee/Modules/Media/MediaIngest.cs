using Marquee.Media.Contracts;
using Marquee.Media.Uploads;
using Marquee.Platform.Audit;
using Marquee.Platform.Web;
using Microsoft.Extensions.Options;

namespace Marquee.Media;

internal sealed class MediaIngest(
    Assets assets,
    MediaStorage storage,
    MediaPipeline pipeline,
    MediaPipelineSignal signal,
    IAuditLog audit,
    IOptions<UploadOptions> uploads) : IMediaIngest
{
    public string? Refusal(string file)
    {
        var source = new FileInfo(file);
        return !source.Exists ? $"There is no file '{file}'."
            : source.Length == 0 ? $"'{file}' is empty: a zero-length file has nothing to play."
            : !uploads.Value.Extensions.Contains(source.Extension, StringComparer.OrdinalIgnoreCase)
                ? $"'{source.Name}' is not one of the accepted media files ({string.Join(", ", uploads.Value.Extensions)})."
                : null;
    }

    public async Task<AssetStatus> IngestFileAsync(string file, Guid titleId, int priority, RequestActor actor, CancellationToken cancellationToken)
    {
        if (priority is < MediaJobs.MinPriority or > MediaJobs.MaxPriority)
        {
            throw new ArgumentException($"The priority must be from {MediaJobs.MinPriority} to {MediaJobs.MaxPriority}.", nameof(priority));
        }

        ArgumentNullException.ThrowIfNull(actor);
        if (Refusal(file) is { } refusal)
        {
            throw new ArgumentException(refusal, nameof(file));
        }

        var source = new FileInfo(file);
        var extension = source.Extension.ToLowerInvariant();

        Directory.CreateDirectory(storage.Sources);
        var name = $"{Guid.CreateVersion7():N}{extension}";
        var target = Path.Combine(storage.Sources, name);
        var temp = target + ".part";
        await using (var from = source.OpenRead())
        await using (var to = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
        {
            await from.CopyToAsync(to, cancellationToken);
            await to.FlushAsync(cancellationToken);
        }

        File.Move(temp, target); // only a whole copy is ever received
        var assetId = await assets.ReceiveAsync(titleId, name, priority, cancellationToken);
        await audit.RecordAsync(new AuditRecord(actor.Name, "media.source-ingested", $"asset:{assetId}", actor.From,
            $"{source.FullName} ({source.Length} bytes) for title {titleId}"), cancellationToken);
        return new AssetStatus(assetId, titleId, AssetState.Received, null);
    }

    public async Task<AssetStatus> WaitAsync(Guid assetId, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var last = "";
        while (true)
        {
            var asset = await assets.FindAsync(assetId, cancellationToken)
                        ?? throw new ArgumentException($"There is no asset {assetId}.", nameof(assetId));
            if (asset.State is AssetState.Ready or AssetState.Rejected or AssetState.Failed or AssetState.Cancelled)
            {
                return new AssetStatus(asset.Id, asset.TitleId, asset.State, asset.Reason);
            }

            var now = Describe(MediaJob.Of(asset));
            if (now != last)
            {
                last = now;
                progress?.Report(now);
            }

            // Help with the queue; when there is nothing to claim (a server's worker has ours), look again shortly.
            if (!await pipeline.RunNextAsync(cancellationToken))
            {
                await signal.WaitAsync(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
        }
    }

    /// <summary>The state, with the progress a worker wrote (in whole percents, so that a line is not printed every second).</summary>
    private static string Describe(MediaJob job) => job.Progress is { } p
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{job.State} {Math.Floor(p.Percent / 5) * 5:0}%{(p.Remaining is { } r ? $", about {Math.Ceiling(r.TotalSeconds):0} s left" : "")}")
        : job.Attempts > 1 ? $"{job.State} (attempt {job.Attempts})" : job.State.ToString();
}
