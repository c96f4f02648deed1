using Marquee.Catalog.Contracts;
using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Catalog.Data;

internal class CatalogDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "catalog";

    public override string Schema => SchemaName;

    public DbSet<Title> Titles => Set<Title>();

    public DbSet<TitleText> TitleTexts => Set<TitleText>();

    public DbSet<TitleGenre> TitleGenres => Set<TitleGenre>();

    public DbSet<TitleTag> TitleTags => Set<TitleTag>();

    public DbSet<Person> People => Set<Person>();

    public DbSet<Credit> Credits => Set<Credit>();

    public DbSet<AgeRating> AgeRatings => Set<AgeRating>();

    public DbSet<SearchMiss> SearchMisses => Set<SearchMiss>();

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
        e.Property(t => t.DefaultLanguage).HasMaxLength(20).HasDefaultValue("en");
        e.HasIndex(t => t.ChangedTicks);

        var text = modelBuilder.Entity<TitleText>();
        text.ToTable("title_texts");
        text.HasKey(x => new { x.TitleId, x.Language });
        text.Property(x => x.Language).HasMaxLength(20);
        text.Property(x => x.Name).HasMaxLength(300);
        text.Property(x => x.Synopsis).HasMaxLength(4000);
        text.HasOne<Title>().WithMany(t => t.Texts).HasForeignKey(x => x.TitleId).OnDelete(DeleteBehavior.Cascade);

        var genre = modelBuilder.Entity<TitleGenre>();
        genre.ToTable("title_genres");
        genre.HasKey(x => new { x.TitleId, x.Slug });
        genre.Property(x => x.Slug).HasMaxLength(100);
        genre.Property(x => x.Name).HasMaxLength(100);
        genre.HasIndex(x => x.Slug);
        genre.HasOne<Title>().WithMany(t => t.Genres).HasForeignKey(x => x.TitleId).OnDelete(DeleteBehavior.Cascade);

        var tag = modelBuilder.Entity<TitleTag>();
        tag.ToTable("title_tags");
        tag.HasKey(x => new { x.TitleId, x.Tag });
        tag.Property(x => x.Tag).HasMaxLength(100);
        tag.HasOne<Title>().WithMany(t => t.Tags).HasForeignKey(x => x.TitleId).OnDelete(DeleteBehavior.Cascade);

        var person = modelBuilder.Entity<Person>();
        person.ToTable("people");
        person.HasKey(x => x.Id);
        person.Property(x => x.Name).HasMaxLength(200);
        person.HasIndex(x => x.Name).IsUnique();

        var credit = modelBuilder.Entity<Credit>();
        credit.ToTable("credits");
        credit.HasKey(x => x.Id);
        credit.Property(x => x.Role).HasConversion<string>().HasMaxLength(20);
        credit.Property(x => x.Character).HasMaxLength(200);
        credit.HasIndex(x => x.TitleId);
        credit.HasIndex(x => x.PersonId);
        credit.HasOne(x => x.Person).WithMany().HasForeignKey(x => x.PersonId).OnDelete(DeleteBehavior.Restrict);
        credit.HasOne<Title>().WithMany(t => t.Credits).HasForeignKey(x => x.TitleId).OnDelete(DeleteBehavior.Cascade);

        var rating = modelBuilder.Entity<AgeRating>();
        rating.ToTable("age_ratings");
        rating.HasKey(x => new { x.TitleId, x.Territory });
        rating.Property(x => x.Territory).HasMaxLength(2);
        rating.HasOne<Title>().WithMany(t => t.AgeRatings).HasForeignKey(x => x.TitleId).OnDelete(DeleteBehavior.Cascade);

        var miss = modelBuilder.Entity<SearchMiss>();
        miss.ToTable("search_misses");
        miss.HasKey(x => x.Id);
        miss.Property(x => x.Query).HasMaxLength(200);
        miss.HasIndex(x => x.At);
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

    /// <summary>Series season of an episode (the series is <see cref="Collection"/>, the episode <see cref="Number"/>).</summary>
    public int? Season { get; set; }

    public DateOnly? ReleaseDate { get; set; }

    public bool Exclusive { get; set; }

    /// <summary>The language of <see cref="Name"/> and <see cref="Synopsis"/> (BCP 47, e.g. <c>en</c>).</summary>
    public string DefaultLanguage { get; set; } = "en";

    /// <summary>Playback sessions started (from Delivery's PlaybackStarted): the popularity that search ranks by.</summary>
    public long Plays { get; set; }

    /// <summary>UTC ticks of the last change that search sees (details, plays): the index catches up on rows changed since.</summary>
    public long ChangedTicks { get; set; }

    public List<TitleText> Texts { get; set; } = [];

    public List<TitleGenre> Genres { get; set; } = [];

    public List<TitleTag> Tags { get; set; } = [];

    public List<Credit> Credits { get; set; } = [];

    public List<AgeRating> AgeRatings { get; set; } = [];

    public TitleSummary ToSummary() => new(Id, Slug, Name, Kind, Synopsis,
        DurationMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, ArtworkUrl, CreatedAt, Collection, Number);
}

/// <summary>A title's name and synopsis in one more language.</summary>
internal sealed class TitleText
{
    public Guid TitleId { get; set; }

    public required string Language { get; set; }

    public required string Name { get; set; }

    public string? Synopsis { get; set; }
}

internal sealed class TitleGenre
{
    public Guid TitleId { get; set; }

    /// <summary>The genre's address part (<c>science-fiction</c>).</summary>
    public required string Slug { get; set; }

    /// <summary>The genre as written (<c>Science fiction</c>).</summary>
    public required string Name { get; set; }
}

internal sealed class TitleTag
{
    public Guid TitleId { get; set; }

    public required string Tag { get; set; }
}

internal sealed class Person
{
    public Guid Id { get; set; }

    public required string Name { get; set; }
}

internal sealed class Credit
{
    public Guid Id { get; set; }

    public Guid TitleId { get; set; }

    public Guid PersonId { get; set; }

    public Person? Person { get; set; }

    public CreditRole Role { get; set; }

    /// <summary>The part an actor plays.</summary>
    public string? Character { get; set; }

    /// <summary>Billing order, from 0.</summary>
    public int Position { get; set; }
}

/// <summary>Minimum age for a territory (ISO 3166-1 alpha-2), or <c>*</c> for everywhere else.</summary>
internal sealed class AgeRating
{
    public Guid TitleId { get; set; }

    public required string Territory { get; set; }

    public int MinimumAge { get; set; }
}

/// <summary>A search that found nothing (demand analysis).</summary>
internal sealed class SearchMiss
{
    public Guid Id { get; set; }

    public required string Query { get; set; }

    public DateTimeOffset At { get; set; }
}

internal sealed class SqliteCatalogDbFactory() : DesignTimeFactory<SqliteCatalogDb>(DatabaseProvider.Sqlite, CatalogDb.SchemaName);

internal sealed class PostgresCatalogDbFactory() : DesignTimeFactory<PostgresCatalogDb>(DatabaseProvider.Postgres, CatalogDb.SchemaName);
