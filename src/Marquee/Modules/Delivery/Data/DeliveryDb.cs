using Marquee.Delivery.Contracts;
using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Delivery.Data;

internal class DeliveryDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "delivery";

    public override string Schema => SchemaName;

    public DbSet<PlaybackSession> Sessions => Set<PlaybackSession>();

    protected override void ConfigureModel(ModelBuilder modelBuilder)
    {
        var e = modelBuilder.Entity<PlaybackSession>();
        e.ToTable("sessions");
        e.HasKey(s => s.Id);
        e.Property(s => s.Platform).HasConversion<string>().HasMaxLength(20);
        e.Property(s => s.EndReason).HasMaxLength(40);
        e.Property(s => s.PackageRoot).HasMaxLength(1000);
        e.Property(s => s.MasterPlaylist).HasMaxLength(300);
        e.HasIndex(s => new { s.AccountId, s.EndedAt });
        e.HasIndex(s => new { s.EndedAt, s.IdleDeadline });
    }
}

internal sealed class SqliteDeliveryDb(DbContextOptions<SqliteDeliveryDb> options) : DeliveryDb(options);

internal sealed class PostgresDeliveryDb(DbContextOptions<PostgresDeliveryDb> options) : DeliveryDb(options);

/// <summary>One viewer playing one title: live until stopped, revoked, or silent for longer than its heartbeat timeout.</summary>
internal sealed class PlaybackSession
{
    public Guid Id { get; set; }

    public Guid AccountId { get; set; }

    public Guid ProfileId { get; set; }

    public Guid TitleId { get; set; }

    public Guid AssetId { get; set; }

    /// <summary>The package folder and master playlist, fixed for the session's life.</summary>
    public required string PackageRoot { get; set; }

    public required string MasterPlaylist { get; set; }

    public ClientPlatform Platform { get; set; }

    public int? MaxHeight { get; set; }

    public bool WithAds { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset LastHeartbeatAt { get; set; }

    /// <summary>This session's heartbeat timeout (the configured default, or an operator URL's TTL).</summary>
    public int HeartbeatTimeoutSeconds { get; set; }

    /// <summary>When it ends unless a heartbeat comes first: <see cref="LastHeartbeatAt"/> + the timeout.</summary>
    public DateTimeOffset IdleDeadline { get; set; }

    public double? PositionSeconds { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    /// <summary><c>stopped</c>, <c>heartbeat-timeout</c> or <c>revoked</c>.</summary>
    public string? EndReason { get; set; }

    public bool IsLive(DateTimeOffset now) => EndedAt is null && IdleDeadline >= now;
}

internal sealed class SqliteDeliveryDbFactory() : DesignTimeFactory<SqliteDeliveryDb>(DatabaseProvider.Sqlite, DeliveryDb.SchemaName);

internal sealed class PostgresDeliveryDbFactory() : DesignTimeFactory<PostgresDeliveryDb>(DatabaseProvider.Postgres, DeliveryDb.SchemaName);
