using Marquee.Platform.Events;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Marquee.Platform.Data;

/// <summary>
/// Base of every module's data context. A module owns its tables: a schema of its own on PostgreSQL,
/// a table prefix on SQLite. Every module context carries its own transactional outbox and inbox, so a
/// domain event is stored in the same transaction as the change that caused it.
/// </summary>
public abstract class ModuleDbContext : DbContext
{
    protected ModuleDbContext(DbContextOptions options) : base(options) { }

    /// <summary>The module's schema name (PostgreSQL) or table prefix (SQLite), lower case.</summary>
    public abstract string Schema { get; }

    internal DbSet<OutboxMessage> Outbox => Set<OutboxMessage>();

    internal DbSet<InboxRecord> Inbox => Set<InboxRecord>();

    /// <summary>Set while a save that adds outbox messages is in flight (<see cref="Events.OutboxSignalInterceptor"/>).</summary>
    internal bool OutboxAdded { get; set; }

    protected abstract void ConfigureModel(ModelBuilder modelBuilder);

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        if (Database.IsSqlite())
        {
            // SQLite cannot compare or order DateTimeOffset; store UTC ticks so that scheduling queries work.
            configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
            configurationBuilder.Properties<DateTimeOffset?>().HaveConversion<DateTimeOffsetToBinaryConverter>();
        }
    }

    protected sealed override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ConfigureModel(modelBuilder);
        OutboxMessage.Configure(modelBuilder);
        InboxRecord.Configure(modelBuilder);

        if (Database.IsSqlite())
        {
            foreach (var entity in modelBuilder.Model.GetEntityTypes())
            {
                var table = entity.GetTableName();
                if (table is not null && entity.GetViewName() is null)
                {
                    entity.SetTableName($"{Schema}_{table}");
                }
            }
        }
        else
        {
            modelBuilder.HasDefaultSchema(Schema);
        }
    }

    /// <summary>Stores a domain event in this context's outbox; it is written by the next SaveChanges, in the same transaction.</summary>
    public void Publish(IDomainEvent domainEvent)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        Outbox.Add(OutboxMessage.For(domainEvent));
    }

    /// <summary>
    /// For idempotent handlers: true when this handler already handled the message. Otherwise marks it as handled
    /// in this context, to be committed with the handler's own changes by the next SaveChanges.
    /// </summary>
    public async Task<bool> AlreadyHandledAsync(EventContext context, string handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var seen = await Inbox.AnyAsync(r => r.MessageId == context.MessageId && r.Handler == handler, cancellationToken);
        if (!seen)
        {
            Inbox.Add(new InboxRecord { MessageId = context.MessageId, Handler = handler });
        }

        return seen;
    }
}
