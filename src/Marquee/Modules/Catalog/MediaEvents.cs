using Marquee.Catalog.Data;
using Marquee.Media.Contracts;
using Marquee.Platform.Events;

namespace Marquee.Catalog;

/// <summary>When Media has made a title playable, the title learns its measured duration (if it had none).</summary>
internal sealed class MediaEvents(CatalogDb db, Titles titles) : IDomainEventHandler<AssetReady>
{
    public async Task HandleAsync(AssetReady domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        if (await db.AlreadyHandledAsync(context, nameof(MediaEvents), cancellationToken))
        {
            return;
        }

        await titles.ApplyMeasuredDurationAsync(domainEvent.TitleId, domainEvent.Duration, cancellationToken);
        await db.SaveChangesAsync(cancellationToken); // the duration and the inbox record together
    }
}
