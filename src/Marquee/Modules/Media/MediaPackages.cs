using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Media;

/// <summary>Media's answer to Delivery: the newest published package of a title, and its content key.</summary>
internal sealed class MediaPackages(MediaDb db, MediaStorage storage, AssetKeys keys) : IMediaPackages
{
    public async Task<PackagedTitle?> FindPlayableAsync(Guid titleId, CancellationToken cancellationToken)
    {
        var asset = await db.Assets.AsNoTracking()
            .Where(a => a.TitleId == titleId && a.State == AssetState.Ready)
            .OrderByDescending(a => a.UpdatedAt)
            .FirstOrDefaultAsync(cancellationToken);
        if (asset is null)
        {
            return null;
        }

        var root = Packager.PublishedFolder(storage.Published, asset.Id);
        return File.Exists(Path.Combine(root, "master.m3u8"))
            ? new PackagedTitle(titleId, asset.Id, root, "master.m3u8", TimeSpan.FromMilliseconds(asset.DurationMs ?? 0),
                File.Exists(Path.Combine(root, PackagedTitle.ThumbnailTrack)))
            : null;
    }

    public Task<byte[]?> GetContentKeyAsync(Guid assetId, CancellationToken cancellationToken) => keys.FindAsync(assetId, cancellationToken);
}
