using Marquee.Media.Contracts;
using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Media.Data;

internal class MediaDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "media";

    public override string Schema => SchemaName;

    public DbSet<Asset> Assets => Set<Asset>();

    public DbSet<AssetKey> AssetKeys => Set<AssetKey>();

    protected override void ConfigureModel(ModelBuilder modelBuilder)
    {
        var a = modelBuilder.Entity<Asset>();
        a.ToTable("assets");
        a.HasKey(x => x.Id);
        a.HasIndex(x => x.TitleId);
        a.Property(x => x.SourcePath).HasMaxLength(1000);
        a.Property(x => x.State).HasConversion<string>().HasMaxLength(20);
        a.HasIndex(x => x.State);
        a.Property(x => x.Reason).HasMaxLength(2000);
        a.Property(x => x.LeaseOwner).HasMaxLength(200);
        a.HasIndex(x => new { x.State, x.Priority, x.CreatedAt }); // the queue: Received, highest priority, oldest

        var k = modelBuilder.Entity<AssetKey>();
        k.ToTable("asset_keys");
        k.HasKey(x => x.AssetId);
        k.HasOne<Asset>().WithOne().HasForeignKey<AssetKey>(x => x.AssetId).OnDelete(DeleteBehavior.Cascade);
        k.Property(x => x.ProtectedKey).HasMaxLength(1024);
    }
}

internal sealed class SqliteMediaDb(DbContextOptions<SqliteMediaDb> options) : MediaDb(options);

internal sealed class PostgresMediaDb(DbContextOptions<PostgresMediaDb> options) : MediaDb(options);

/// <summary>One uploaded source of a title and where it is in the pipeline.</summary>
internal sealed class Asset
{
    public Guid Id { get; set; }

    /// <summary>The Catalog title this is a source of (by id only: Catalog's tables are Catalog's).</summary>
    public Guid TitleId { get; set; }

    /// <summary>The source file, relative to the media folder.</summary>
    public required string SourcePath { get; set; }

    public AssetState State { get; set; }

    /// <summary>Why the source was rejected, or why the pipeline failed.</summary>
    public string? Reason { get; set; }

    /// <summary>ffprobe's JSON, kept as evidence and for later steps.</summary>
    public string? ProbeJson { get; set; }

    public long? DurationMs { get; set; }

    /// <summary>Higher runs first; equal priorities run oldest first.</summary>
    public int Priority { get; set; }

    /// <summary>How many times a worker claimed it (the current run included); reset by an operator's retry.</summary>
    public int Attempts { get; set; }

    /// <summary>A failed attempt's automatic retry waits until then (back-off).</summary>
    public DateTimeOffset? NotBefore { get; set; }

    /// <summary>The worker instance running it now (while Probing or Transcoding).</summary>
    public string? LeaseOwner { get; set; }

    /// <summary>When the running worker's claim lapses unless its heartbeat renews it; after that recovery may requeue it.</summary>
    public DateTimeOffset? LeaseExpiresAt { get; set; }

    /// <summary>An operator asked to cancel the running job; its worker notices on its next heartbeat.</summary>
    public bool CancelRequested { get; set; }

    public double? ProgressPercent { get; set; }

    public double? ProgressFps { get; set; }

    public double? ProgressSpeed { get; set; }

    public long? ProgressRemainingMs { get; set; }

    /// <summary>When the running worker last wrote its progress.</summary>
    public DateTimeOffset? ProgressAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>An asset's AES-128 content key, protected at rest by ASP.NET Core Data Protection.</summary>
internal sealed class AssetKey
{
    public Guid AssetId { get; set; }

    public required byte[] ProtectedKey { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class SqliteMediaDbFactory() : DesignTimeFactory<SqliteMediaDb>(DatabaseProvider.Sqlite, MediaDb.SchemaName);

internal sealed class PostgresMediaDbFactory() : DesignTimeFactory<PostgresMediaDb>(DatabaseProvider.Postgres, MediaDb.SchemaName);
