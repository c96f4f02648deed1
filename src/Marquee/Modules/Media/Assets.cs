using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Media;

/// <summary>Media assets: sources received for titles, and where each is in the pipeline.</summary>
internal sealed class Assets(MediaDb db, MediaStorage storage, MediaPipelineSignal signal, TimeProvider clock)
{
    /// <summary>Records a source already stored under the sources folder as received; the pipeline takes it from there.</summary>
    public Task<Guid> ReceiveAsync(Guid titleId, string sourceFileName, CancellationToken cancellationToken) =>
        ReceiveAsync(titleId, sourceFileName, 0, cancellationToken);

    /// <summary>As <see cref="ReceiveAsync(Guid, string, CancellationToken)"/>, queued with <paramref name="priority"/> (higher runs first).</summary>
    public async Task<Guid> ReceiveAsync(Guid titleId, string sourceFileName, int priority, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(priority, MediaJobs.MinPriority);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(priority, MediaJobs.MaxPriority);
        var path = Probe.InsideFolder(storage.Sources, sourceFileName); // refuses names that leave the folder
        var now = clock.GetUtcNow();
        var asset = new Asset
        {
            Id = Guid.CreateVersion7(now),
            TitleId = titleId,
            SourcePath = Path.GetRelativePath(storage.Sources, path),
            State = AssetState.Received,
            Priority = priority,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.Assets.Add(asset);
        await db.SaveChangesAsync(cancellationToken);
        signal.Wake();
        return asset.Id;
    }

    /// <summary>The asset made from a source file (relative to the sources folder), if any.</summary>
    public Task<Asset?> FindBySourceAsync(string sourceFileName, CancellationToken cancellationToken) =>
        db.Assets.AsNoTracking().FirstOrDefaultAsync(a => a.SourcePath == sourceFileName, cancellationToken);

    public Task<Asset?> FindAsync(Guid assetId, CancellationToken cancellationToken) =>
        db.Assets.AsNoTracking().SingleOrDefaultAsync(a => a.Id == assetId, cancellationToken);
}
