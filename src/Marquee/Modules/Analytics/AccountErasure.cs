using Marquee.Analytics.Data;
using Marquee.Identity.Contracts;
using Marquee.Platform.Events;
using Marquee.Platform.Privacy;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Analytics;

/// <summary>
/// Privacy: when Identity deletes an account, its analytics are pseudonymised: in the legacy raw table (its events' JSON)
/// and in the warehouse (events, sessions, user days; everything spooled so far is loaded first and the loaded spool
/// segments deleted, see <see cref="Pipeline.PseudonymiseAsync"/>) the account id is replaced by a random pseudonym, one per erasure, so
/// the aggregates (counts, watch time, revenue) stay as they were but nothing links them to the person any more; quarantined
/// payloads that mention the account are deleted. Idempotent: a redelivery finds nothing left to replace. The pseudonym
/// is the erasure's own (<see cref="DataSubject.PseudonymText"/>), the same as in the other modules' kept rows.
/// For the export (<see cref="IPersonalData"/>): the account's events in the warehouse (everything spooled loaded first).
/// </summary>
internal sealed class AccountErasure(AnalyticsDb db, Pipeline pipeline) : IDomainEventHandler<AccountDeleted>, IPersonalData
{
    public string Section => "analytics";

    public async Task<object?> ExportAsync(Guid accountId, CancellationToken cancellationToken)
    {
        var events = await pipeline.EventsOfAsync(accountId.ToString(), 10_000, cancellationToken);
        return events.Count == 0 ? null : new
        {
            events = events.Select(e => System.Text.Json.Nodes.JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(e, AnalyticsJson.Default.AnalyticsEvent))).ToList(),
        };
    }

    public async Task HandleAsync(AccountDeleted domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        ArgumentNullException.ThrowIfNull(context);
        var subject = domainEvent.Subject(context);
        var user = domainEvent.AccountId.ToString();
        var pseudonym = subject.PseudonymText;
        var marker = $"\"user\":\"{user}\"";
        while (true)
        {
            var rows = await db.RawEvents.Where(r => r.Json.Contains(marker)).OrderBy(r => r.Seq).Take(5_000).ToListAsync(cancellationToken);
            if (rows.Count == 0)
            {
                break;
            }

            foreach (var row in rows)
            {
                var e = System.Text.Json.JsonSerializer.Deserialize(row.Json, AnalyticsJson.Default.AnalyticsEvent)!;
                row.Json = System.Text.Json.JsonSerializer.Serialize(e with { User = pseudonym }, AnalyticsJson.Default.AnalyticsEvent);
            }

            await db.SaveChangesAsync(cancellationToken);
            db.ChangeTracker.Clear();
        }

        await db.Quarantine.Where(q => q.Payload.Contains(user)).ExecuteDeleteAsync(cancellationToken);
        await pipeline.PseudonymiseAsync(user, pseudonym, cancellationToken);
        await PersonalDataScrub.ScrubOutboxAsync(db, subject, cancellationToken);
    }
}
