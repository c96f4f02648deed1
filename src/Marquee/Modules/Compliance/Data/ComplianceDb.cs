using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Compliance.Data;

internal class ComplianceDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "compliance";

    public override string Schema => SchemaName;

    public DbSet<AuditEntry> AuditEntries => Set<AuditEntry>();

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
    }
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
}

internal sealed class SqliteComplianceDbFactory() : DesignTimeFactory<SqliteComplianceDb>(DatabaseProvider.Sqlite, ComplianceDb.SchemaName);

internal sealed class PostgresComplianceDbFactory() : DesignTimeFactory<PostgresComplianceDb>(DatabaseProvider.Postgres, ComplianceDb.SchemaName);
