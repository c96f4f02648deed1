using Marquee.Platform.Audit;
using Marquee.Compliance.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Web;
using Microsoft.EntityFrameworkCore;

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

    /// <summary>Audit lines, newest first, optionally of one action and one actor.</summary>
    public async Task<IReadOnlyList<AuditLine>> ListAsync(string? action, string? actor, int take, CancellationToken cancellationToken)
    {
        var query = db.AuditEntries.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(action))
        {
            query = query.Where(a => a.Action == action);
        }

        if (!string.IsNullOrWhiteSpace(actor))
        {
            query = query.Where(a => a.Actor == actor);
        }

        return await query.OrderByDescending(a => a.Id).Take(Math.Clamp(take, 1, 1000))
            .Select(a => new AuditLine(a.Id, a.At, a.Actor, a.Action, a.Target, a.From, a.Details))
            .ToListAsync(cancellationToken);
    }

    /// <summary>Every action that occurs in the log, in order, for filters.</summary>
    public async Task<IReadOnlyList<string>> ActionsAsync(CancellationToken cancellationToken) =>
        await db.AuditEntries.AsNoTracking().Select(a => a.Action).Distinct().OrderBy(a => a).ToListAsync(cancellationToken);

    public Task<int> CountAsync(CancellationToken cancellationToken) => db.AuditEntries.CountAsync(cancellationToken);

    internal static AuditEntry ToEntry(AuditRecord r, DateTimeOffset at, Guid? source) => new()
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

/// <summary>Compliance's figures on the console overview.</summary>
internal sealed class ComplianceFigures(AuditLog auditLog) : IConsoleFigures
{
    public async Task<IReadOnlyList<ConsoleFigure>> ReadAsync(CancellationToken cancellationToken) =>
        [new("Compliance", "Audit lines", await auditLog.CountAsync(cancellationToken), "/console/compliance/audit")];
}
