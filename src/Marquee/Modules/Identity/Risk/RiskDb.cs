using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Identity.Risk;

/// <summary>Sign-up risk decisions with their reasons (schema <c>risk</c> on PostgreSQL, prefix <c>risk_</c> on SQLite).</summary>
internal class RiskDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "risk";

    public override string Schema => SchemaName;

    public DbSet<RiskDecision> Decisions => Set<RiskDecision>();

    protected override void ConfigureModel(ModelBuilder modelBuilder) => modelBuilder.Entity<RiskDecision>(b =>
    {
        b.ToTable("sign_up_decisions");
        b.HasKey(d => d.Id);
        b.Property(d => d.Email).HasMaxLength(256);
        b.Property(d => d.Ip).HasMaxLength(64);
        b.Property(d => d.Subnet).HasMaxLength(64);
        b.Property(d => d.Fingerprint).HasMaxLength(64);
        b.Property(d => d.UserAgent).HasMaxLength(300);
        b.Property(d => d.Outcome).HasConversion<string>().HasMaxLength(16);
        b.Property(d => d.Reasons).HasMaxLength(2000);
        b.HasIndex(d => d.At);
        b.HasIndex(d => new { d.Subnet, d.At });
        b.HasIndex(d => new { d.Ip, d.At });
        b.HasIndex(d => new { d.Fingerprint, d.At });
        b.HasIndex(d => new { d.Email, d.At });
    });
}

internal sealed class SqliteRiskDb(DbContextOptions<SqliteRiskDb> options) : RiskDb(options);

internal sealed class PostgresRiskDb(DbContextOptions<PostgresRiskDb> options) : RiskDb(options);

internal sealed class SqliteRiskDbFactory() : DesignTimeFactory<SqliteRiskDb>(DatabaseProvider.Sqlite, RiskDb.SchemaName);

internal sealed class PostgresRiskDbFactory() : DesignTimeFactory<PostgresRiskDb>(DatabaseProvider.Postgres, RiskDb.SchemaName);

/// <summary>What a sign-up request's score led to.</summary>
internal enum RiskOutcome
{
    /// <summary>Below the challenge threshold: the code is e-mailed as usual.</summary>
    Allowed,

    /// <summary>At or above the challenge threshold: the code is e-mailed but works only after a waiting time.</summary>
    Challenged,

    /// <summary>At or above the block threshold: refused with a generic message, nothing stored but this decision.</summary>
    Blocked,

    /// <summary>Over the sign-ups per minute of its subnet: refused with 429 before any other work.</summary>
    Throttled,
}

/// <summary>One scored sign-up request, kept for review in the console.</summary>
internal sealed class RiskDecision
{
    public Guid Id { get; set; }

    public DateTimeOffset At { get; set; }

    /// <summary>The e-mail as given (normalized to upper case for matching).</summary>
    public required string Email { get; set; }

    public string? Ip { get; set; }

    /// <summary>The /24 (IPv4) or /48 (IPv6) network of <see cref="Ip"/>.</summary>
    public string? Subnet { get; set; }

    /// <summary>SHA-256 (hex, truncated) of the browser's device cookie or the client's device header.</summary>
    public string? Fingerprint { get; set; }

    public string? UserAgent { get; set; }

    public int Score { get; set; }

    public RiskOutcome Outcome { get; set; }

    /// <summary>The signals that scored, as <c>name (+points): detail</c> lines.</summary>
    public required string Reasons { get; set; }

    /// <summary>For a challenged sign-up: its code is refused before this time.</summary>
    public DateTimeOffset? HeldUntil { get; set; }
}
