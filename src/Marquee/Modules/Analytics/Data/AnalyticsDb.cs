using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Analytics.Data;

/// <summary>
/// Analytics' own tables in the platform database: the append-only raw event log (the durable landing place of every
/// accepted event), the quarantine of refused events with their reason, counters (duplicates) and operators' saved
/// dashboard choices. The warehouse (cleaned events, sessions, roll-ups) is a DuckDB file, see <see cref="Warehouse"/>.
/// </summary>
internal class AnalyticsDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "analytics";

    public override string Schema => SchemaName;

    public DbSet<RawEvent> RawEvents => Set<RawEvent>();

    public DbSet<QuarantinedEvent> Quarantine => Set<QuarantinedEvent>();

    public DbSet<AnalyticsCounter> Counters => Set<AnalyticsCounter>();

    public DbSet<DashboardPreference> Preferences => Set<DashboardPreference>();

    protected override void ConfigureModel(ModelBuilder modelBuilder)
    {
        var r = modelBuilder.Entity<RawEvent>();
        r.ToTable("raw_events");
        r.HasKey(x => x.Seq);
        r.Property(x => x.Seq).ValueGeneratedOnAdd();
        r.Property(x => x.EventId).HasMaxLength(100);
        r.Property(x => x.Type).HasMaxLength(40);
        r.Property(x => x.Day).HasMaxLength(10);
        r.HasIndex(x => x.EventId).IsUnique();
        r.HasIndex(x => x.Day);

        var q = modelBuilder.Entity<QuarantinedEvent>();
        q.ToTable("quarantine");
        q.HasKey(x => x.Id);
        q.Property(x => x.Reason).HasMaxLength(300);
        q.Property(x => x.EventId).HasMaxLength(100);
        q.HasIndex(x => x.ReceivedAt);

        var c = modelBuilder.Entity<AnalyticsCounter>();
        c.ToTable("counters");
        c.HasKey(x => new { x.Day, x.Name });
        c.Property(x => x.Day).HasMaxLength(10);
        c.Property(x => x.Name).HasMaxLength(60);

        var p = modelBuilder.Entity<DashboardPreference>();
        p.ToTable("dashboard_preferences");
        p.HasKey(x => x.OperatorId);
    }
}

/// <summary>One accepted event as received (normalised JSON), in arrival order (<see cref="Seq"/> is the ETL's watermark).</summary>
internal sealed class RawEvent
{
    public long Seq { get; set; }

    public string EventId { get; set; } = "";

    public string Type { get; set; } = "";

    /// <summary>The client's time of the event (UTC).</summary>
    public DateTimeOffset ClientTime { get; set; }

    /// <summary>The UTC day of <see cref="ClientTime"/>, yyyy-MM-dd: the day the event lands in, however late it arrived.</summary>
    public string Day { get; set; } = "";

    public DateTimeOffset ReceivedAt { get; set; }

    public string Json { get; set; } = "";
}

/// <summary>An event refused with its reason (never silently dropped).</summary>
internal sealed class QuarantinedEvent
{
    public Guid Id { get; set; }

    public string? EventId { get; set; }

    public string Reason { get; set; } = "";

    public DateTimeOffset ReceivedAt { get; set; }

    /// <summary>The event as sent (cut at 4,000 characters).</summary>
    public string Payload { get; set; } = "";
}

/// <summary>A count per receiving day (e.g. <c>duplicates</c>).</summary>
internal sealed class AnalyticsCounter
{
    public string Day { get; set; } = "";

    public string Name { get; set; } = "";

    public long Value { get; set; }
}

/// <summary>An operator's saved dashboard: metrics, filters, date range (JSON).</summary>
internal sealed class DashboardPreference
{
    public Guid OperatorId { get; set; }

    public string Json { get; set; } = "{}";

    public DateTimeOffset UpdatedAt { get; set; }
}

internal sealed class SqliteAnalyticsDb(DbContextOptions<SqliteAnalyticsDb> options) : AnalyticsDb(options);

internal sealed class PostgresAnalyticsDb(DbContextOptions<PostgresAnalyticsDb> options) : AnalyticsDb(options);

internal sealed class SqliteAnalyticsDbFactory() : DesignTimeFactory<SqliteAnalyticsDb>(DatabaseProvider.Sqlite, AnalyticsDb.SchemaName);

internal sealed class PostgresAnalyticsDbFactory() : DesignTimeFactory<PostgresAnalyticsDb>(DatabaseProvider.Postgres, AnalyticsDb.SchemaName);
