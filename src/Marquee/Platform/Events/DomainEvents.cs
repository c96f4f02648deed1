namespace Marquee.Platform.Events;

/// <summary>A fact a module publishes for others. Must be serialisable to JSON and carry an <see cref="EventNameAttribute"/>.</summary>
#pragma warning disable CA1040 // Marker interface: events are plain records.
public interface IDomainEvent;
#pragma warning restore CA1040

/// <summary>The stable wire name of a domain event (kept when the type is renamed or moved), e.g. <c>catalog.title-created.v1</c>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class EventNameAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>What a handler knows about the message it handles. <see cref="MessageId"/> is the idempotency key.</summary>
public sealed record EventContext(Guid MessageId, string EventName, DateTimeOffset OccurredAt, int Attempt, string SourceModule);

/// <summary>
/// Handles one kind of domain event. Delivery is at least once: a handler must be idempotent
/// (see <see cref="Data.ModuleDbContext.AlreadyHandledAsync"/>).
/// </summary>
public interface IDomainEventHandler<in TEvent>
    where TEvent : IDomainEvent
{
    Task HandleAsync(TEvent domainEvent, EventContext context, CancellationToken cancellationToken);
}
