using Marquee.Compliance.Data;
using Marquee.Identity.Contracts;
using Marquee.Platform.Audit;
using Marquee.Platform.Events;
using Marquee.Platform.Privacy;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Compliance;

/// <summary>
/// Compliance's personal data: the audit lines about the account or done by it. The audit log stays append-only: on
/// erasure the lines are kept (who did what, when, stays provable) but their actor, target and details name the
/// erasure's pseudonym instead of the person, their client IP address is dropped, and each is marked
/// <see cref="AuditEntry.RedactedAt"/> (the only update the database allows; the hash chain covers each line's digest as
/// written, which the redaction keeps). On PostgreSQL the redaction runs through <c>compliance.redact_audit_entries</c>, a
/// function that runs as the schema's owner, so the app's role needs no UPDATE on the lines (R24). One line <c>compliance.subject-erased</c> (more beyond 300 lines), naming the redacted lines by id,
/// records the erasure under the pseudonym.
/// </summary>
internal sealed class CompliancePrivacy(ComplianceDb db, TimeProvider clock) : IPersonalData, IDomainEventHandler<AccountDeleted>
{
    public string Section => "compliance";

    public async Task<object?> ExportAsync(Guid accountId, CancellationToken cancellationToken)
    {
        var target = $"account:{accountId}";
        var emails = await db.AuditEntries.AsNoTracking().Where(a => a.Target == target && a.Action.StartsWith("identity.")).Select(a => a.Actor).Distinct().ToListAsync(cancellationToken);
        var lines = await db.AuditEntries.AsNoTracking().Where(a => a.Target == target || emails.Contains(a.Actor)).OrderBy(a => a.Id).ToListAsync(cancellationToken);
        return lines.Count == 0 ? null : new { auditLines = lines.Select(a => new { a.At, a.Actor, a.Action, a.Target, a.From, a.Details }).ToList() };
    }

    public async Task HandleAsync(AccountDeleted domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        ArgumentNullException.ThrowIfNull(context);
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        if (await db.AlreadyHandledAsync(context, nameof(CompliancePrivacy), cancellationToken))
        {
            return;
        }

        var subject = domainEvent.Subject(context);
        var now = clock.GetUtcNow();
        var redacted = new List<long>();
        foreach (var needle in subject.Needles)
        {
            if (db.Database.IsNpgsql())
            {
                // Through the function that runs as the schema's owner: the app's role may have no UPDATE on the audit
                // lines (R24, Marquee:Database:AppRole); the function does the same replacement as below.
                redacted.AddRange(await db.Database.SqlQuery<long>(
                    $"SELECT r AS \"Value\" FROM compliance.redact_audit_entries({needle}, {subject.PseudonymText}, {now}) AS r").ToListAsync(cancellationToken));
                continue;
            }

            var lines = await db.AuditEntries
                .Where(a => a.Actor.Contains(needle) || a.Target.Contains(needle) || (a.Details != null && a.Details.Contains(needle)))
                .ToListAsync(cancellationToken);
            foreach (var line in lines)
            {
                line.Actor = Replace(line.Actor, needle, subject.PseudonymText, 200)!;
                line.Target = Replace(line.Target, needle, subject.PseudonymText, 300)!;
                line.Details = Replace(line.Details, needle, subject.PseudonymText, 4000);
                line.From = null;
                line.RedactedAt = now;
                redacted.Add(line.Id);
            }

            await db.SaveChangesAsync(cancellationToken);
        }

        await PersonalDataScrub.ScrubOutboxAsync(db, subject, cancellationToken);
        // The erasure names the lines it redacted (chained: AuditChainHash), so that `marquee audit verify` tells a
        // redaction from an edit; 300 ids a line keeps each within the 4000 characters of Details.
        var ids = redacted.Distinct().Order().Chunk(300).ToList();
        for (var i = 0; i < Math.Max(1, ids.Count); i++)
        {
            var named = ids.Count == 0 ? "" : $", {AuditChainHash.RedactedPrefix}{string.Join(",", ids[i].Select(id => $"#{id}"))}";
            db.AuditEntries.Add(AuditLog.ToEntry(
                new AuditRecord("system", "compliance.subject-erased", $"subject:{subject.PseudonymText}", null, $"{redacted.Distinct().Count()} audit line(s) redacted{named}"),
                domainEvent.At, i == 0 ? context.MessageId : null));
        }

        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    private static string? Replace(string? value, string needle, string by, int max)
    {
        if (value is null)
        {
            return null;
        }

        var replaced = value.Replace(needle, by, StringComparison.Ordinal);
        return replaced.Length <= max ? replaced : replaced[..max];
    }
}
