using Marquee.Compliance.Data;
using Marquee.Identity.Contracts;
using Marquee.Platform.Audit;
using Marquee.Platform.Events;

namespace Marquee.Compliance;

/// <summary>Records Identity's security events (failed sign-ins, lockouts, MFA and passkey changes, ...) in the audit log.</summary>
internal sealed class SecurityEvents(ComplianceDb db) : IDomainEventHandler<SecurityEvent>
{
    public async Task HandleAsync(SecurityEvent domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        ArgumentNullException.ThrowIfNull(context);
        if (await db.AlreadyHandledAsync(context, nameof(SecurityEvents), cancellationToken))
        {
            return;
        }

        db.AuditEntries.Add(AuditLog.ToEntry(
            new AuditRecord(domainEvent.Email, domainEvent.Action, $"account:{domainEvent.AccountId}", domainEvent.From, domainEvent.Details),
            domainEvent.At, context.MessageId));
        await db.SaveChangesAsync(cancellationToken);
    }
}
