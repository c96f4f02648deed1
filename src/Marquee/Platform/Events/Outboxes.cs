using Marquee.Platform.Audit;
using Marquee.Platform.Web;
using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Platform.Events;

/// <summary>Where an outbox message stands.</summary>
internal enum OutboxState
{
    Pending,
    Delivered,
    Failed,
}

/// <summary>One module's outbox in numbers.</summary>
internal sealed record OutboxCounts(string Module, int Pending, int Delivered, int Failed);

/// <summary>An outbox message as the operator console shows it.</summary>
internal sealed record OutboxLine(
    string Module,
    Guid Id,
    string EventName,
    DateTimeOffset OccurredAt,
    int Attempts,
    DateTimeOffset NextAttemptAt,
    DateTimeOffset? DeliveredAt,
    DateTimeOffset? FailedAt,
    string? LastError);

/// <summary>
/// Every module's outbox, read and repaired for operators: counts, the messages in each state, and a retry for
/// messages whose delivery was given up. Each module's context is resolved from the registered
/// <see cref="ModuleDatabase"/>s, in a scope of its own.
/// </summary>
internal sealed class Outboxes(IServiceProvider services, IEnumerable<ModuleDatabase> modules, TimeProvider time, OutboxSignal signal)
{
    public IReadOnlyList<string> Modules { get; } = [.. modules.Select(m => m.Schema)];

    public async Task<IReadOnlyList<OutboxCounts>> CountAsync(CancellationToken cancellationToken)
    {
        var counts = new List<OutboxCounts>();
        foreach (var module in modules)
        {
            await using var scope = services.CreateAsyncScope();
            var db = Context(scope, module);
            var pending = await db.Outbox.CountAsync(m => m.DeliveredAt == null && m.FailedAt == null, cancellationToken);
            var delivered = await db.Outbox.CountAsync(m => m.DeliveredAt != null, cancellationToken);
            var failed = await db.Outbox.CountAsync(m => m.DeliveredAt == null && m.FailedAt != null, cancellationToken);
            counts.Add(new OutboxCounts(module.Schema, pending, delivered, failed));
        }

        return counts;
    }

    /// <summary>Messages in one state across every module (or one), newest first, at most <paramref name="take"/> per module.</summary>
    public async Task<IReadOnlyList<OutboxLine>> ListAsync(OutboxState state, string? module, int take, CancellationToken cancellationToken)
    {
        var lines = new List<OutboxLine>();
        foreach (var m in modules.Where(m => module is null || m.Schema == module))
        {
            await using var scope = services.CreateAsyncScope();
            var db = Context(scope, m);
            var query = db.Outbox.AsNoTracking();
            query = state switch
            {
                OutboxState.Delivered => query.Where(x => x.DeliveredAt != null),
                OutboxState.Failed => query.Where(x => x.DeliveredAt == null && x.FailedAt != null),
                _ => query.Where(x => x.DeliveredAt == null && x.FailedAt == null),
            };
            var schema = m.Schema;
            var rows = await query.OrderByDescending(x => x.OccurredAt).ThenByDescending(x => x.Id)
                .Take(Math.Clamp(take, 1, 500))
                .Select(x => new OutboxLine(schema, x.Id, x.EventName, x.OccurredAt, x.Attempts, x.NextAttemptAt, x.DeliveredAt, x.FailedAt, x.LastError))
                .ToListAsync(cancellationToken);
            lines.AddRange(rows);
        }

        return [.. lines.OrderByDescending(l => l.OccurredAt)];
    }

    /// <summary>
    /// Gives a failed message a fresh set of attempts, due now, and wakes the dispatcher. The last error stays
    /// until a delivery succeeds. False when the message is unknown or is not failed (already retried or delivered).
    /// </summary>
    public async Task<bool> RetryAsync(string module, Guid messageId, RequestActor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var m = modules.FirstOrDefault(x => x.Schema == module);
        if (m is null)
        {
            return false;
        }

        await using var scope = services.CreateAsyncScope();
        var db = Context(scope, m);
        var now = time.GetUtcNow();
        // The retry and its audit line commit together, through the module's own outbox.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var updated = await db.Outbox
            .Where(x => x.Id == messageId && x.DeliveredAt == null && x.FailedAt != null)
            .ExecuteUpdateAsync(s => s
                .SetProperty(x => x.FailedAt, (DateTimeOffset?)null)
                .SetProperty(x => x.Attempts, 0)
                .SetProperty(x => x.NextAttemptAt, now)
                .SetProperty(x => x.LockedUntil, (DateTimeOffset?)null), cancellationToken);
        if (updated != 1)
        {
            return false;
        }

        db.Publish(new AuditRequested(new AuditRecord(actor.Name, "platform.event-retried", $"event:{module}/{messageId}", actor.From), now));
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        signal.Notify();
        return true;
    }

    private static ModuleDbContext Context(AsyncServiceScope scope, ModuleDatabase module) =>
        (ModuleDbContext)scope.ServiceProvider.GetRequiredService(module.ContextType);
}
