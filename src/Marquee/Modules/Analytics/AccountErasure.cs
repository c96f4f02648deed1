using Marquee.Analytics.Data;
using Marquee.Identity.Contracts;
using Marquee.Platform.Events;
using Marquee.Platform.Privacy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Marquee.Analytics;

/// <summary>
/// Privacy: when Identity deletes an account, its analytics are pseudonymised: in the legacy raw table (its events' JSON)
/// and in the warehouse (events, sessions, user days; everything spooled so far is loaded first and the loaded spool
/// segments deleted, see <see cref="Pipeline.PseudonymiseAsync"/>) the account id is replaced by a random pseudonym, one per erasure, so
/// the aggregates (counts, watch time, revenue) stay as they were but nothing links them to the person any more; quarantined
/// payloads that mention the account are deleted. Idempotent: a redelivery finds nothing left to replace. The pseudonym
/// is the erasure's own (<see cref="DataSubject.PseudonymText"/>), the same as in the other modules' kept rows.
/// Then the warehouse file is rewritten (<see cref="Warehouse.RewriteAsync"/>, unless
/// <see cref="AnalyticsOptions.RewriteWarehouseOnErasure"/> is off), so neither DuckDB's WAL nor its freed blocks keep the old
/// id, and its files are read back for the id's bytes: found (a block's unwritten tail can carry bytes from DuckDB's memory),
/// the rewrite is repeated, at most three times, then logged as an error.
/// For the export (<see cref="IPersonalData"/>): the account's events in the warehouse (everything spooled loaded first).
/// </summary>
internal sealed partial class AccountErasure(AnalyticsDb db, Pipeline pipeline, Warehouse warehouse, IOptions<AnalyticsOptions> options, ILogger<AccountErasure> logger)
    : IDomainEventHandler<AccountDeleted>, IPersonalData
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
        if (options.Value.RewriteWarehouseOnErasure)
        {
            await RewriteWarehouseAsync(user, cancellationToken);
        }
    }

    private async Task RewriteWarehouseAsync(string user, CancellationToken cancellationToken)
    {
        const int attempts = 3;
        for (var attempt = 1; attempt <= attempts; attempt++)
        {
            await warehouse.RewriteAsync(cancellationToken);
            if (!await warehouse.FilesHoldAsync(user, cancellationToken))
            {
                return;
            }
        }

        Left(logger, attempts);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The analytics warehouse still holds an erased account's id after {Attempts} rewrites")]
    private static partial void Left(ILogger logger, int attempts);
}
