using Marquee.Platform.Events;

namespace Marquee.Platform.Audit;

/// <summary>One line of the audit log: who did what to which object, when and from where.</summary>
/// <param name="Actor">The account or operator who acted (or <c>system</c>, or a loopback console operator before Identity).</param>
/// <param name="Action">What happened, as <c>module.verb</c>, e.g. <c>catalog.title-created</c>.</param>
/// <param name="Target">The object acted on, e.g. <c>title:0193...</c>.</param>
/// <param name="From">Where the request came from (client IP), when there was one.</param>
/// <param name="Details">A short free text or JSON with what changed.</param>
public sealed record AuditRecord(string Actor, string Action, string Target, string? From, string? Details = null);

/// <summary>
/// The audit log every module (and the platform itself) writes through; the Compliance module stores it, append-only. <see cref="RecordAsync"/> appends at once; to audit a change
/// in the same transaction as the change itself, publish <see cref="AuditRequested"/> through the module's outbox.
/// </summary>
public interface IAuditLog
{
    Task RecordAsync(AuditRecord record, CancellationToken cancellationToken);
}

/// <summary>Published through a module's outbox so that the audit line is committed with the change it describes.</summary>
[EventName("platform.audit-requested.v1")]
[Marquee.Platform.Privacy.RedactAfterDelivery]
public sealed record AuditRequested(AuditRecord Record, DateTimeOffset At) : IDomainEvent;
