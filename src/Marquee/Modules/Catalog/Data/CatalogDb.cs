using Marquee.Catalog.Contracts;
using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Catalog.Data;

internal class CatalogDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "catalog";

    public override string Schema => SchemaName;

    public DbSet<Title> Titles => Set<Title>();

    protected override void ConfigureModel(ModelBuilder modelBuilder)
    {
        var e = modelBuilder.Entity<Title>();
        e.ToTable("titles");
        e.HasKey(t => t.Id);
        e.Property(t => t.Slug).HasMaxLength(120);
        e.HasIndex(t => t.Slug).IsUnique();
        e.Property(t => t.Name).HasMaxLength(300);
        e.Property(t => t.Synopsis).HasMaxLength(4000);
        e.Property(t => t.ArtworkUrl).HasMaxLength(1000);
        e.Property(t => t.Kind).HasConversion<string>().HasMaxLength(20);
        e.HasIndex(t => t.CreatedAt);
        e.Property(t => t.Collection).HasMaxLength(200);
        e.HasIndex(t => new { t.Collection, t.Number });
    }
}

internal sealed class SqliteCatalogDb(DbContextOptions<SqliteCatalogDb> options) : CatalogDb(options);

internal sealed class PostgresCatalogDb(DbContextOptions<PostgresCatalogDb> options) : CatalogDb(options);

internal sealed class Title
{
    public Guid Id { get; set; }

    public required string Slug { get; set; }

    public required string Name { get; set; }

    public TitleKind Kind { get; set; }

    public string? Synopsis { get; set; }

    public long? DurationMs { get; set; }

    public string? ArtworkUrl { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The album or show it belongs to.</summary>
    public string? Collection { get; set; }

    /// <summary>Track or episode number within <see cref="Collection"/>.</summary>
    public int? Number { get; set; }

    public TitleSummary ToSummary() => new(Id, Slug, Name, Kind, Synopsis,
        DurationMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, ArtworkUrl, CreatedAt, Collection, Number);
}

internal sealed class SqliteCatalogDbFactory() : DesignTimeFactory<SqliteCatalogDb>(DatabaseProvider.Sqlite, CatalogDb.SchemaName);

internal sealed class PostgresCatalogDbFactory() : DesignTimeFactory<PostgresCatalogDb>(DatabaseProvider.Postgres, CatalogDb.SchemaName);
