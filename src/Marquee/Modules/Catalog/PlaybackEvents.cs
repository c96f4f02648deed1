using Marquee.Catalog.Data;
using Marquee.Delivery.Contracts;
using Marquee.Platform.Events;

namespace Marquee.Catalog;

/// <summary>Counts playback sessions started per title: the popularity that search ranks by.</summary>
internal sealed class PlaybackEvents(CatalogDb db, Titles titles) : IDomainEventHandler<PlaybackStarted>
{
    public async Task HandleAsync(PlaybackStarted domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        if (await db.AlreadyHandledAsync(context, nameof(PlaybackEvents), cancellationToken))
        {
            return;
        }

        await titles.CountPlayAsync(domainEvent.TitleId, cancellationToken);
        await db.SaveChangesAsync(cancellationToken); // the count and the inbox record together
    }
}
