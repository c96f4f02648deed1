using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Platform.Events;

/// <summary>
/// Delivers every module's outbox messages to in-process handlers, at least once: a message is marked delivered
/// only after all its handlers succeeded; a failure is recorded and retried with exponential back-off, and after
/// <see cref="EventsOptions.MaxAttempts"/> the message is marked failed for an operator to look at.
/// Several workers may run (PostgreSQL scale-out): a message is claimed with a lease before it is handled.
/// </summary>
internal sealed class OutboxDispatcher(
    IServiceProvider services,
    IEnumerable<ModuleDatabase> modules,
    IOptionsMonitor<EventsOptions> options,
    TimeProvider time,
    OutboxSignal signal,
    ILogger<OutboxDispatcher> logger) : BackgroundService
{
    private static readonly Meter Meter = new("Marquee.Events");
    private static readonly Counter<long> Delivered = Meter.CreateCounter<long>("marquee.events.delivered");
    private static readonly Counter<long> Failures = Meter.CreateCounter<long>("marquee.events.failures");

    private static readonly ConcurrentDictionary<Type, Func<IServiceProvider, object, EventContext, CancellationToken, Task<int>>> Invokers = new();

    private readonly Guid workerId = Guid.NewGuid();

    // The earliest retry this worker scheduled and has not reached yet (ticks of the clock; long.MaxValue: none): the
    // dispatcher wakes for it instead of waiting a whole poll interval.
    private long nextRetryTicks = long.MaxValue;

    // Per module (schema): messages this worker claimed and handled whose settle (delivered, or failed with a retry time)
    // could not be written (a storage fault), with the lease value this worker set. The next pass releases those leases
    // (only where the lease is still this worker's value), so the message is tried again as soon as storage is back rather
    // than when the lease lapses. Bounded: a pass that cannot release them fails before it claims anything new.
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<Guid, DateTimeOffset>> unsettled = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        logger.LogInformation("Event dispatcher started for modules {Modules}", string.Join(", ", modules.Select(m => m.Schema)));
        if (options.CurrentValue.UnsafeAtMostOnce)
        {
            logger.LogCritical("Marquee:Events:UnsafeAtMostOnce is set: events are marked delivered before they are handled, and a crash loses them. It exists only for a test's negative control.");
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            var handled = 0;
            try
            {
                handled = await DispatchDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Event dispatch pass failed; retrying after the poll interval");
            }

            if (handled == 0)
            {
                await signal.WaitAsync(NextWait(), time, stoppingToken);
            }
        }
    }

    /// <summary>The poll interval, or less when a retry this worker scheduled falls due sooner.</summary>
    private TimeSpan NextWait()
    {
        var poll = options.CurrentValue.PollInterval;
        var retry = Interlocked.Read(ref nextRetryTicks);
        if (retry == long.MaxValue)
        {
            return poll;
        }

        var now = time.GetUtcNow().UtcTicks;
        if (retry <= now)
        {
            // Due now: the pass just made saw it (or another worker holds it); forget it and poll as usual.
            Interlocked.CompareExchange(ref nextRetryTicks, long.MaxValue, retry);
            return TimeSpan.Zero;
        }

        var untilRetry = TimeSpan.FromTicks(retry - now);
        return untilRetry < poll ? untilRetry : poll;
    }

    private void RememberRetry(DateTimeOffset next)
    {
        var ticks = next.UtcTicks;
        var seen = Interlocked.Read(ref nextRetryTicks);
        while (ticks < seen)
        {
            var was = Interlocked.CompareExchange(ref nextRetryTicks, ticks, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }

    /// <summary>One pass over every module's outbox; returns how many messages were attempted.</summary>
    internal async Task<int> DispatchDueAsync(CancellationToken cancellationToken)
    {
        var count = 0;
        foreach (var module in modules)
        {
            count += await DispatchModuleAsync(module, cancellationToken);
        }

        return count;
    }

    private async Task<int> DispatchModuleAsync(ModuleDatabase module, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        await using var scope = services.CreateAsyncScope();
        var db = (ModuleDbContext)scope.ServiceProvider.GetRequiredService(module.ContextType);
        await ReleaseUnsettledAsync(db, module, cancellationToken);
        var now = time.GetUtcNow();
        var due = await db.Outbox.AsNoTracking()
            .Where(m => m.DeliveredAt == null && m.FailedAt == null && m.NextAttemptAt <= now
                        && (m.LockedUntil == null || m.LockedUntil < now))
            .OrderBy(m => m.NextAttemptAt).ThenBy(m => m.Id)
            .Take(settings.BatchSize)
            .ToListAsync(cancellationToken);

        var attempted = 0;
        foreach (var message in due)
        {
            if (await ClaimAsync(db, message, settings, cancellationToken) is not { } lease)
            {
                continue; // another worker has it
            }

            attempted++;
            await DeliverAsync(db, module, message, lease, settings, cancellationToken);
        }

        return attempted;
    }

    /// <summary>
    /// Releases the leases of this module's messages whose settle failed in an earlier pass, where the lease is still the
    /// value this worker set (a lease another worker took since, after this one lapsed, is left alone), then forgets them.
    /// A delivered but unsettled message is thus handled again at once: at least once, the outbox's contract (handlers are
    /// idempotent). If storage still fails, they stay remembered and the pass fails here, before claiming anything.
    /// </summary>
    private async Task ReleaseUnsettledAsync(ModuleDbContext db, ModuleDatabase module, CancellationToken cancellationToken)
    {
        if (!unsettled.TryGetValue(module.Schema, out var leases) || leases.IsEmpty)
        {
            return;
        }

        foreach (var (id, until) in leases)
        {
            var released = await db.Outbox
                .Where(m => m.Id == id && m.LockedUntil == until)
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.LockedUntil, (DateTimeOffset?)null), cancellationToken);
            leases.TryRemove(new KeyValuePair<Guid, DateTimeOffset>(id, until));
            logger.LogInformation("Released the lease of {MessageId} in {Module}, whose outcome could not be written ({Released} row)", id, module.Schema, released);
        }
    }

    private void RememberUnsettled(ModuleDatabase module, Guid id, DateTimeOffset lease) =>
        unsettled.GetOrAdd(module.Schema, _ => new ConcurrentDictionary<Guid, DateTimeOffset>())[id] = lease;

    /// <summary>Claims the message with a lease; returns the lease's end, or null when another worker has it.</summary>
    private async Task<DateTimeOffset?> ClaimAsync(ModuleDbContext db, OutboxMessage message, EventsOptions settings, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // Whole milliseconds: stored exactly by both providers (SQLite keeps 0.1 ms, PostgreSQL 1 µs), so the lease can be
        // matched by value when it is released (ReleaseUnsettledAsync).
        var until = now + settings.LeaseDuration;
        until = until.AddTicks(-(until.UtcTicks % TimeSpan.TicksPerMillisecond));
        var id = message.Id;
        var claimed = await db.Outbox
            .Where(m => m.Id == id && m.DeliveredAt == null && m.FailedAt == null && (m.LockedUntil == null || m.LockedUntil < now))
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LockedUntil, until), cancellationToken);
        return claimed == 1 ? until : null;
    }

    private async Task DeliverAsync(ModuleDbContext db, ModuleDatabase module, OutboxMessage message, DateTimeOffset lease, EventsOptions settings, CancellationToken cancellationToken)
    {
        var attempt = message.Attempts + 1;
        string? error = null;
        if (settings.UnsafeAtMostOnce)
        {
            // The broken variant (R3's negative control): delivered before handled, so a crash here loses the message.
            await db.Outbox.Where(m => m.Id == message.Id).ExecuteUpdateAsync(s => s
                .SetProperty(m => m.DeliveredAt, time.GetUtcNow())
                .SetProperty(m => m.Attempts, attempt)
                .SetProperty(m => m.LockedUntil, (DateTimeOffset?)null), CancellationToken.None);
        }

        try
        {
            var type = EventRegistry.TypeOf(message.EventName)
                       ?? throw new InvalidOperationException($"No event type is known by the name '{message.EventName}'.");
            var payload = JsonSerializer.Deserialize(message.Payload, type, EventRegistry.JsonOptions)
                          ?? throw new InvalidOperationException("The event payload is empty.");
            var context = new EventContext(message.Id, message.EventName, message.OccurredAt, attempt, module.Schema);
            var invoker = Invokers.GetOrAdd(type, CreateInvoker);
            var handlers = await invoker(services, payload, context, cancellationToken);
            logger.LogDebug("Delivered {Event} {MessageId} to {Handlers} handler(s)", message.EventName, message.Id, handlers);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: release the lease so the message is retried at once by the next worker.
            await db.Outbox.Where(m => m.Id == message.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.LockedUntil, (DateTimeOffset?)null), CancellationToken.None);
            throw;
        }
        catch (Exception ex)
        {
            error = $"{ex.GetType().Name}: {ex.Message}";
            if (error.Length > 2000)
            {
                error = error[..2000];
            }

            logger.LogWarning(ex, "Handler failed for {Event} {MessageId} (attempt {Attempt})", message.EventName, message.Id, attempt);
        }

        var now = time.GetUtcNow();
        var id = message.Id;
        if (error is null)
        {
            // An event that carries personal data keeps no copy of it once handled (Privacy.RedactAfterDeliveryAttribute).
            var redact = EventRegistry.TypeOf(message.EventName)?.IsDefined(typeof(Privacy.RedactAfterDeliveryAttribute), false) == true;
            await SettleAsync(module, id, lease, () => db.Outbox.Where(m => m.Id == id).ExecuteUpdateAsync(s => s
                .SetProperty(m => m.Payload, m => redact ? "{}" : m.Payload)
                .SetProperty(m => m.DeliveredAt, now)
                .SetProperty(m => m.Attempts, attempt)
                .SetProperty(m => m.LockedUntil, (DateTimeOffset?)null), CancellationToken.None));
            Delivered.Add(1, new KeyValuePair<string, object?>("event", message.EventName));
            if (redact && db.Database.IsSqlite()
                && EventRegistry.TypeOf(message.EventName)?.GetCustomAttributes(typeof(Privacy.RedactAfterDeliveryAttribute), false) is [Privacy.RedactAfterDeliveryAttribute { Erasure: true }])
            {
                await CheckpointAsync(db);
            }

            return;
        }

        Failures.Add(1, new KeyValuePair<string, object?>("event", message.EventName));
        DateTimeOffset? failedAt = attempt >= settings.MaxAttempts ? now : null;
        var next = now + settings.RetryDelay(attempt);
        await SettleAsync(module, id, lease, () => db.Outbox.Where(m => m.Id == id).ExecuteUpdateAsync(s => s
            .SetProperty(m => m.Attempts, attempt)
            .SetProperty(m => m.LastError, error)
            .SetProperty(m => m.NextAttemptAt, next)
            .SetProperty(m => m.FailedAt, failedAt)
            .SetProperty(m => m.LockedUntil, (DateTimeOffset?)null), CancellationToken.None));
        if (failedAt is null)
        {
            RememberRetry(next);
        }
        else
        {
            logger.LogError("Gave up delivering {Event} {MessageId} after {Attempts} attempts: {Error}", message.EventName, message.Id, attempt, error);
        }
    }

    /// <summary>
    /// Writes a delivery's outcome. If the write fails (a storage fault: disk full, database down), the message would keep
    /// this worker's lease until it lapses (<see cref="EventsOptions.LeaseDuration"/>); it is remembered instead, and the
    /// next pass releases the lease (<see cref="ReleaseUnsettledAsync"/>). The failure still ends this pass.
    /// </summary>
    private async Task SettleAsync(ModuleDatabase module, Guid id, DateTimeOffset lease, Func<Task<int>> write)
    {
        try
        {
            await write();
        }
        catch (Exception)
        {
            RememberUnsettled(module, id, lease);
            throw;
        }
    }

    /// <summary>
    /// R32: once an erasure (an event marked <c>[RedactAfterDelivery(Erasure = true)]</c>: <c>AccountDeleted</c>) has been
    /// handled by every handler and its payload blanked, the SQLite write-ahead log is checkpointed and truncated, so no
    /// old page image of the erased rows stays in <c>marquee.db-wal</c>. A reader holding an old snapshot makes it busy:
    /// retried for up to 5 s (each try waits at most 1 s), then left to SQLite's next automatic checkpoint (logged). Only
    /// erasures: a truncating checkpoint after every audited action would stall the dispatcher. Timed on the wall clock.
    /// </summary>
    private async Task CheckpointAsync(ModuleDbContext db)
    {
        var clock = TimeProvider.System;
        var deadline = clock.GetUtcNow() + TimeSpan.FromSeconds(5);
        var connection = db.Database.GetDbConnection();
        var opened = connection.State != System.Data.ConnectionState.Open;
        if (opened)
        {
            await connection.OpenAsync(CancellationToken.None);
        }

        try
        {
            while (true)
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
                command.CommandTimeout = 1;
                var busy = Convert.ToInt64(await command.ExecuteScalarAsync(CancellationToken.None), System.Globalization.CultureInfo.InvariantCulture);
                if (busy == 0)
                {
                    return;
                }

                if (clock.GetUtcNow() > deadline)
                {
                    logger.LogWarning("The write-ahead log could not be truncated after an event with personal data (readers kept it busy for 5 s)");
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), clock, CancellationToken.None);
            }
        }
        finally
        {
            if (opened)
            {
                await connection.CloseAsync();
            }
        }
    }

    private static Func<IServiceProvider, object, EventContext, CancellationToken, Task<int>> CreateInvoker(Type eventType)
    {
        var method = typeof(OutboxDispatcher).GetMethod(nameof(InvokeHandlersAsync), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(eventType);
        return method.CreateDelegate<Func<IServiceProvider, object, EventContext, CancellationToken, Task<int>>>();
    }

    private static async Task<int> InvokeHandlersAsync<TEvent>(IServiceProvider root, object payload, EventContext context, CancellationToken cancellationToken)
        where TEvent : IDomainEvent
    {
        var registrations = root.GetServices<HandlerRegistration<TEvent>>().ToList();
        foreach (var registration in registrations)
        {
            // Each handler gets its own scope, so its data context starts clean on every attempt.
            await using var scope = root.CreateAsyncScope();
            var handler = (IDomainEventHandler<TEvent>)scope.ServiceProvider.GetRequiredService(registration.HandlerType);
            await handler.HandleAsync((TEvent)payload, context, cancellationToken);
        }

        return registrations.Count;
    }
}

/// <summary>Records that <see cref="HandlerType"/> handles <typeparamref name="TEvent"/>.</summary>
internal sealed record HandlerRegistration<TEvent>(Type HandlerType)
    where TEvent : IDomainEvent;

public static class EventRegistration
{
    /// <summary>Registers an idempotent handler of a domain event; it runs in a scope of its own for each delivery.</summary>
    public static IServiceCollection AddEventHandler<TEvent, THandler>(this IServiceCollection services)
        where TEvent : IDomainEvent
        where THandler : class, IDomainEventHandler<TEvent>
    {
        EventRegistry.Register(typeof(TEvent));
        services.AddScoped<THandler>();
        services.AddSingleton(new HandlerRegistration<TEvent>(typeof(THandler)));
        return services;
    }
}
