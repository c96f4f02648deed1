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

    public DbSet<LibraryItem> LibraryItems => Set<LibraryItem>();

    public DbSet<LibraryVersion> LibraryVersions => Set<LibraryVersion>();

    public DbSet<LibraryTag> LibraryTags => Set<LibraryTag>();

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

        // The asset library (DAM): every file of a title, its versions with checksums and technical metadata, and tags.
        var li = modelBuilder.Entity<LibraryItem>();
        li.ToTable("library_items");
        li.HasKey(x => x.Id);
        li.Property(x => x.Kind).HasConversion<string>().HasMaxLength(20);
        li.Property(x => x.Status).HasConversion<string>().HasMaxLength(20);
        li.Property(x => x.Name).HasMaxLength(300);
        li.Property(x => x.Note).HasMaxLength(2000);
        li.HasIndex(x => x.TitleId);
        li.HasIndex(x => x.PipelineAssetId).IsUnique();
        li.HasMany(x => x.Versions).WithOne().HasForeignKey(x => x.ItemId).OnDelete(DeleteBehavior.Cascade);
        li.HasMany(x => x.Tags).WithOne().HasForeignKey(x => x.ItemId).OnDelete(DeleteBehavior.Cascade);

        var lv = modelBuilder.Entity<LibraryVersion>();
        lv.ToTable("library_versions");
        lv.HasKey(x => new { x.ItemId, x.Number });
        lv.Property(x => x.Path).HasMaxLength(1000);
        lv.Property(x => x.FileName).HasMaxLength(300);
        lv.Property(x => x.Sha256).HasMaxLength(64);
        lv.HasIndex(x => x.Sha256);
        // One library entry per stored file: two workers recording the same package's renditions at once (the AssetReady
        // handler beside the start-up backfill) cannot both win; the loser finds the winner's rows when it tries again.
        lv.HasIndex(x => x.Path).IsUnique();
        lv.Property(x => x.Container).HasMaxLength(200);
        lv.Property(x => x.VideoCodec).HasMaxLength(50);
        lv.Property(x => x.AudioCodec).HasMaxLength(50);
        lv.Property(x => x.Actor).HasMaxLength(200);

        var lt = modelBuilder.Entity<LibraryTag>();
        lt.ToTable("library_tags");
        lt.HasKey(x => new { x.ItemId, x.Tag });
        lt.Property(x => x.Tag).HasMaxLength(100);
        lt.HasIndex(x => x.Tag);
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

/// <summary>What a library file is to its title.</summary>
internal enum LibraryKind
{
    Source,
    Rendition,
    Artwork,
    Subtitle,
    Trailer,
    Script,
    Other,
}

/// <summary>Where a library file stands: in use, refused by the pipeline's checks, or retired by an operator.</summary>
internal enum LibraryStatus
{
    Active,
    Ready,
    Rejected,
    Archived,
}

/// <summary>One file of the asset library (DAM): its versions keep every upload, the last is current.</summary>
internal sealed class LibraryItem
{
    public Guid Id { get; set; }

    /// <summary>The Catalog title it belongs to (by id only), or null for a file not tied to one title yet.</summary>
    public Guid? TitleId { get; set; }

    public LibraryKind Kind { get; set; }

    public required string Name { get; set; }

    public LibraryStatus Status { get; set; }

    /// <summary>Why the status is what it is (a pipeline rejection's reason), if anything.</summary>
    public string? Note { get; set; }

    /// <summary>The pipeline asset (<see cref="Asset"/>) this source library entry mirrors, for sources received by the pipeline.</summary>
    public Guid? PipelineAssetId { get; set; }

    public int CurrentVersion { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public List<LibraryVersion> Versions { get; set; } = [];

    public List<LibraryTag> Tags { get; set; } = [];
}

/// <summary>One version of a library file: where it is, its SHA-256, and what ffprobe saw (null for files it does not read).</summary>
internal sealed class LibraryVersion
{
    public Guid ItemId { get; set; }

    public int Number { get; set; }

    /// <summary>The file, relative to the media folder.</summary>
    public required string Path { get; set; }

    /// <summary>The name it was uploaded with.</summary>
    public required string FileName { get; set; }

    public long SizeBytes { get; set; }

    /// <summary>SHA-256 of the content, lower-case hex.</summary>
    public required string Sha256 { get; set; }

    public string? Container { get; set; }

    public long? DurationMs { get; set; }

    public string? VideoCodec { get; set; }

    public string? AudioCodec { get; set; }

    public int? Width { get; set; }

    public int? Height { get; set; }

    public string? ProbeJson { get; set; }

    public required string Actor { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class LibraryTag
{
    public Guid ItemId { get; set; }

    public required string Tag { get; set; }
}

internal sealed class SqliteMediaDbFactory() : DesignTimeFactory<SqliteMediaDb>(DatabaseProvider.Sqlite, MediaDb.SchemaName);

internal sealed class PostgresMediaDbFactory() : DesignTimeFactory<PostgresMediaDb>(DatabaseProvider.Postgres, MediaDb.SchemaName);
