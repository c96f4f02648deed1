using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Marquee.Platform.Events;

/// <summary>
/// Stamps new outbox messages with the clock and, once a save that added any is committed, wakes the dispatcher.
/// Saves that add no message wake nothing: a dispatch pass reads every module's outbox.
/// </summary>
internal sealed class OutboxSignalInterceptor(TimeProvider time, OutboxSignal signal) : SaveChangesInterceptor
{
    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Stamp(eventData.Context);
        return base.SavingChangesAsync(eventData, result, cancellationToken);
    }

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        Stamp(eventData.Context);
        return base.SavingChanges(eventData, result);
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Saved(eventData.Context);
        return base.SavedChangesAsync(eventData, result, cancellationToken);
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        Saved(eventData.Context);
        return base.SavedChanges(eventData, result);
    }

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Failed(eventData.Context);
        return base.SaveChangesFailedAsync(eventData, cancellationToken);
    }

    public override void SaveChangesFailed(DbContextErrorEventData eventData)
    {
        Failed(eventData.Context);
        base.SaveChangesFailed(eventData);
    }

    private void Saved(DbContext? context)
    {
        if (context is ModuleDbContext { OutboxAdded: true } module)
        {
            module.OutboxAdded = false;
            signal.Notify();
        }
    }

    // A failed save may be retried by the caller (the flag is set again then) or abandoned: nothing was committed.
    private static void Failed(DbContext? context)
    {
        if (context is ModuleDbContext module)
        {
            module.OutboxAdded = false;
        }
    }

    private void Stamp(DbContext? context)
    {
        if (context is null)
        {
            return;
        }

        var now = time.GetUtcNow();
        foreach (var entry in context.ChangeTracker.Entries<OutboxMessage>().Where(e => e.State == EntityState.Added))
        {
            if (context is ModuleDbContext module)
            {
                module.OutboxAdded = true;
            }

            if (entry.Entity.OccurredAt == default)
            {
                entry.Entity.OccurredAt = now;
            }

            if (entry.Entity.NextAttemptAt == default)
            {
                entry.Entity.NextAttemptAt = now;
            }
        }
    }
}

/// <summary>
/// Wakes the dispatcher early when new messages were committed in this process. A notification that comes while the
/// dispatcher is busy is kept: its next wait returns at once. Waiting throws nothing on the way (a wait ends every few
/// hundred milliseconds in tests and every poll interval in production; an exception per wait cost measurable CPU).
/// </summary>
internal sealed class OutboxSignal
{
    private TaskCompletionSource pulse = NewPulse();

    private static TaskCompletionSource NewPulse() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Notify() => Volatile.Read(ref pulse).TrySetResult();

    /// <summary>Returns when notified, after <paramref name="timeout"/> on <paramref name="time"/>'s clock, or when cancelled.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref pulse);
        if (!current.Task.IsCompleted && timeout > TimeSpan.Zero)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(timeout, time, stop.Token);
            await Task.WhenAny(current.Task, delay);
            // Ends the timer; the cancelled delay is never awaited, so nothing is thrown.
            await stop.CancelAsync();
        }

        if (current.Task.IsCompleted)
        {
            // A notification after this point lands on the new pulse; one before it is covered by the pass that follows.
            Interlocked.CompareExchange(ref pulse, NewPulse(), current);
        }
    }
}
