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
