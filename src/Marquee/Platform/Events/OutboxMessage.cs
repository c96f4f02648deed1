using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Platform.Events;

/// <summary>A domain event waiting in a module's outbox, with its delivery state.</summary>
internal sealed class OutboxMessage
{
    public Guid Id { get; set; }

    public required string EventName { get; set; }

    public required string Payload { get; set; }

    public DateTimeOffset OccurredAt { get; set; }

    public int Attempts { get; set; }

    public DateTimeOffset NextAttemptAt { get; set; }

    /// <summary>A worker that claimed the message holds it until then.</summary>
    public DateTimeOffset? LockedUntil { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }

    /// <summary>Set when delivery was given up after the last attempt; the message stays for an operator to retry.</summary>
    public DateTimeOffset? FailedAt { get; set; }

    public string? LastError { get; set; }

    internal static OutboxMessage For(IDomainEvent domainEvent) => new()
    {
        Id = Guid.CreateVersion7(),
        EventName = EventRegistry.NameOf(domainEvent.GetType()),
        Payload = JsonSerializer.Serialize(domainEvent, domainEvent.GetType(), EventRegistry.JsonOptions),
    };

    internal static void Configure(ModelBuilder modelBuilder)
    {
        var e = modelBuilder.Entity<OutboxMessage>();
        e.ToTable("outbox");
        e.HasKey(m => m.Id);
        e.Property(m => m.EventName).HasMaxLength(200);
        e.Property(m => m.LastError).HasMaxLength(2000);
        e.HasIndex(m => new { m.DeliveredAt, m.FailedAt, m.NextAttemptAt });
    }
}

/// <summary>Which handler has handled which message, committed with the handler's own changes.</summary>
internal sealed class InboxRecord
{
    public Guid MessageId { get; set; }

    public required string Handler { get; set; }

    internal static void Configure(ModelBuilder modelBuilder)
    {
        var e = modelBuilder.Entity<InboxRecord>();
        e.ToTable("inbox");
        e.HasKey(r => new { r.MessageId, r.Handler });
        e.Property(r => r.Handler).HasMaxLength(200);
    }
}
