using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Options;
using Marquee.Platform;

namespace Marquee.Compliance.Data;

internal class ComplianceDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "compliance";

    public override string Schema => SchemaName;

    public DbSet<AuditEntry> AuditEntries => Set<AuditEntry>();

    /// <summary>One row (id 1): the newest link of the audit hash chain. Appenders lock it, so appends are serialized.</summary>
    public DbSet<AuditChainHead> AuditChain => Set<AuditChainHead>();

    protected override void ConfigureModel(ModelBuilder modelBuilder)
    {
        var e = modelBuilder.Entity<AuditEntry>();
        e.ToTable("audit_entries");
        e.HasKey(a => a.Id);
        e.Property(a => a.Actor).HasMaxLength(200);
        e.Property(a => a.Action).HasMaxLength(100);
        e.Property(a => a.Target).HasMaxLength(300);
        e.Property(a => a.From).HasMaxLength(64);
        e.Property(a => a.Details).HasMaxLength(4000);
        e.HasIndex(a => a.At);
        e.HasIndex(a => a.SourceMessageId).IsUnique();
        e.Property(a => a.ContentDigest).HasMaxLength(64);
        e.Property(a => a.Hash).HasMaxLength(64);
        e.HasIndex(a => a.Sequence).IsUnique();

        var head = modelBuilder.Entity<AuditChainHead>();
        head.ToTable("audit_chain");
        head.HasKey(h => h.Id);
        head.Property(h => h.Id).ValueGeneratedNever();
        head.Property(h => h.Hash).HasMaxLength(64);
        head.HasData(new AuditChainHead { Id = 1, Sequence = 0, Hash = Compliance.AuditChainHash.Genesis });
    }

    /// <summary>New audit lines are chained here, whoever adds them (the log, the outbox handler, security events, erasure).</summary>
    public override async Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        var added = ChangeTracker.Entries<AuditEntry>().Where(e => e.State == EntityState.Added).Select(e => e.Entity).ToList();
        if (added.Count == 0)
        {
            return await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
        }

        var own = Database.CurrentTransaction is null ? await Database.BeginTransactionAsync(cancellationToken) : null;
        AuditChainHead? head = null;
        try
        {
            // A write first: it takes the head's row lock (PostgreSQL) or the database's write lock (SQLite), so two
            // appenders never read the same head.
            await AuditChain.Where(h => h.Id == 1).ExecuteUpdateAsync(u => u.SetProperty(h => h.Sequence, h => h.Sequence), cancellationToken);
            // Read afresh (never a head tracked from an earlier save: another process may have appended since).
            foreach (var tracked in ChangeTracker.Entries<AuditChainHead>().ToList())
            {
                tracked.State = EntityState.Detached;
            }

            head = await AuditChain.AsNoTracking().SingleAsync(h => h.Id == 1, cancellationToken);
            foreach (var entry in added)
            {
                Compliance.AuditChainHash.Append(head, entry);
            }

            AuditChain.Update(head);
            var saved = await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
            if (own is not null)
            {
                await own.CommitAsync(cancellationToken);
                // Committed: the new head goes to the head file outside the database. An append inside a caller's
                // transaction, or one whose head could not be written (a full or read-only disk must not fail what the
                // database has committed), is covered by the next append's head: the chain can only hold that if it holds this.
                try
                {
                    var marquee = this.GetService<IOptions<MarqueeOptions>>().Value; // from the application's services
                    await Compliance.AuditHeadFile.AppendAsync(Compliance.AuditHeadFile.PathIn(marquee), head.Sequence, head.Hash, added[^1].At);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }
            }

            return saved;
        }
        finally
        {
            if (head is not null)
            {
                Entry(head).State = EntityState.Detached;
            }

            if (own is not null)
            {
                await own.DisposeAsync();
            }
        }
    }

    public override int SaveChanges(bool acceptAllChangesOnSuccess) =>
        ChangeTracker.Entries<AuditEntry>().Any(e => e.State == EntityState.Added)
            ? throw new InvalidOperationException("Audit lines are chained on SaveChangesAsync only.")
            : base.SaveChanges(acceptAllChangesOnSuccess);
}

internal sealed class SqliteComplianceDb(DbContextOptions<SqliteComplianceDb> options) : ComplianceDb(options);

internal sealed class PostgresComplianceDb(DbContextOptions<PostgresComplianceDb> options) : ComplianceDb(options);

/// <summary>
/// An append-only audit line; the database refuses deletes, and updates except a redaction (triggers in the migrations):
/// an update must set <see cref="RedactedAt"/> and keep the id, time, action and source message.
/// </summary>
internal sealed class AuditEntry
{
    public long Id { get; set; }

    public DateTimeOffset At { get; set; }

    public required string Actor { get; set; }

    public required string Action { get; set; }

    public required string Target { get; set; }

    public string? From { get; set; }

    public string? Details { get; set; }

    /// <summary>The outbox message this line came from, so that a redelivery cannot add it twice.</summary>
    public Guid? SourceMessageId { get; set; }

    /// <summary>When an erased person's identifiers in this line were replaced by the erasure's pseudonym; null when never.</summary>
    public DateTimeOffset? RedactedAt { get; set; }

    /// <summary>The line's place in the hash chain (1, 2, ...); null for lines written before the chain existed.</summary>
    public long? Sequence { get; set; }

    /// <summary>SHA-256 (hex) of the line as written (<see cref="Compliance.AuditChainHash.Digest"/>): a redaction keeps it.</summary>
    public string? ContentDigest { get; set; }

    /// <summary>SHA-256 (hex) of the previous line's hash, this line's sequence and its content digest.</summary>
    public string? Hash { get; set; }
}

/// <summary>The newest link of the audit hash chain (one row).</summary>
internal sealed class AuditChainHead
{
    public int Id { get; set; }

    public long Sequence { get; set; }

    public required string Hash { get; set; }
}

internal sealed class SqliteComplianceDbFactory() : DesignTimeFactory<SqliteComplianceDb>(DatabaseProvider.Sqlite, ComplianceDb.SchemaName);

internal sealed class PostgresComplianceDbFactory() : DesignTimeFactory<PostgresComplianceDb>(DatabaseProvider.Postgres, ComplianceDb.SchemaName);
