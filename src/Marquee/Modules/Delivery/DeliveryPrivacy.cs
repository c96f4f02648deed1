using Marquee.Delivery.Data;
using Marquee.Identity.Contracts;
using Marquee.Platform.Events;
using Marquee.Platform.Privacy;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Delivery;

/// <summary>Delivery's personal data: the account's playback sessions (title, profile, device platform, times, position). Erasure deletes them.</summary>
internal sealed class DeliveryPrivacy(DeliveryDb db) : IPersonalData, IDomainEventHandler<AccountDeleted>
{
    public string Section => "delivery";

    public async Task<object?> ExportAsync(Guid accountId, CancellationToken cancellationToken)
    {
        var sessions = await db.Sessions.AsNoTracking().Where(s => s.AccountId == accountId).ToListAsync(cancellationToken);
        return new
        {
            playbackSessions = sessions.OrderBy(s => s.CreatedAt).Select(s => new
            {
                s.Id, s.TitleId, s.ProfileId, platform = s.Platform.ToString(), s.MaxHeight, s.WithAds, s.CreatedAt, s.LastHeartbeatAt,
                s.PositionSeconds, s.EndedAt, s.EndReason,
            }).ToList(),
        };
    }

    public async Task HandleAsync(AccountDeleted domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        ArgumentNullException.ThrowIfNull(context);
        var subject = domainEvent.Subject(context);
        await db.Sessions.Where(s => s.AccountId == subject.AccountId).ExecuteDeleteAsync(cancellationToken);
        await PersonalDataScrub.ScrubOutboxAsync(db, subject, cancellationToken);
    }
}
