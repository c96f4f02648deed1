using Marquee.Compliance.Contracts;
using Marquee.Compliance.Data;
using Marquee.Platform.Events;

namespace Marquee.Compliance;

internal sealed class AuditLog(ComplianceDb db, TimeProvider time) : IAuditLog, IDomainEventHandler<AuditRequested>
{
    public async Task RecordAsync(AuditRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        db.AuditEntries.Add(ToEntry(record, time.GetUtcNow(), null));
        await db.SaveChangesAsync(cancellationToken);
    }

    public async Task HandleAsync(AuditRequested domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        ArgumentNullException.ThrowIfNull(context);
        if (await db.AlreadyHandledAsync(context, nameof(AuditLog), cancellationToken))
        {
            return;
        }

        db.AuditEntries.Add(ToEntry(domainEvent.Record, domainEvent.At, context.MessageId));
        await db.SaveChangesAsync(cancellationToken);
    }

    private static AuditEntry ToEntry(AuditRecord r, DateTimeOffset at, Guid? source) => new()
    {
        At = at,
        Actor = Truncate(r.Actor, 200),
        Action = Truncate(r.Action, 100),
        Target = Truncate(r.Target, 300),
        From = r.From is null ? null : Truncate(r.From, 64),
        Details = r.Details is null ? null : Truncate(r.Details, 4000),
        SourceMessageId = source,
    };

    private static string Truncate(string value, int max) => value.Length <= max ? value : value[..max];
}
