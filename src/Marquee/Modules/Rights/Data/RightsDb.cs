using Marquee.Platform.Data;
using Marquee.Rights.Contracts;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Rights.Data;

internal class RightsDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "rights";

    public override string Schema => SchemaName;

    public DbSet<Licence> Licences => Set<Licence>();

    public DbSet<LicenceTitle> LicenceTitles => Set<LicenceTitle>();

    public DbSet<ExpiryAlert> ExpiryAlerts => Set<ExpiryAlert>();

    public DbSet<Provider> Providers => Set<Provider>();

    public DbSet<ProviderContact> ProviderContacts => Set<ProviderContact>();

    public DbSet<Contract> Contracts => Set<Contract>();

    public DbSet<ContractHistoryEntry> ContractHistory => Set<ContractHistoryEntry>();

    public DbSet<PlayUsage> Usage => Set<PlayUsage>();

    public DbSet<RevenueLine> Revenue => Set<RevenueLine>();

    public DbSet<ContractDelivery> ContractDeliveries => Set<ContractDelivery>();

    public DbSet<ContractDocument> ContractDocuments => Set<ContractDocument>();

    protected override void ConfigureModel(ModelBuilder modelBuilder)
    {
        var l = modelBuilder.Entity<Licence>();
        l.ToTable("licences");
        l.HasKey(x => x.Id);
        l.Property(x => x.Name).HasMaxLength(300);
        l.Property(x => x.Territories).HasMaxLength(2000);
        l.Property(x => x.ExcludedTerritories).HasMaxLength(2000);
        l.HasMany(x => x.Titles).WithOne().HasForeignKey(t => t.LicenceId).OnDelete(DeleteBehavior.Cascade);
        l.HasIndex(x => x.EndsAt);
        l.HasIndex(x => x.ContractId);

        var lt = modelBuilder.Entity<LicenceTitle>();
        lt.ToTable("licence_titles");
        lt.HasKey(x => new { x.LicenceId, x.TitleId });
        lt.HasIndex(x => x.TitleId);

        var a = modelBuilder.Entity<ExpiryAlert>();
        a.ToTable("expiry_alerts");
        a.HasKey(x => new { x.LicenceId, x.DaysAhead });

        var p = modelBuilder.Entity<Provider>();
        p.ToTable("providers");
        p.HasKey(x => x.Id);
        p.Property(x => x.Name).HasMaxLength(300);
        p.Property(x => x.Kind).HasMaxLength(40);
        p.HasMany(x => x.Contacts).WithOne().HasForeignKey(c => c.ProviderId).OnDelete(DeleteBehavior.Cascade);

        var pc = modelBuilder.Entity<ProviderContact>();
        pc.ToTable("provider_contacts");
        pc.HasKey(x => x.Id);
        pc.Property(x => x.Name).HasMaxLength(200);
        pc.Property(x => x.Email).HasMaxLength(320);
        pc.Property(x => x.Phone).HasMaxLength(50);
        pc.Property(x => x.Role).HasMaxLength(100);

        var c = modelBuilder.Entity<Contract>();
        c.ToTable("contracts");
        c.HasKey(x => x.Id);
        c.Property(x => x.Name).HasMaxLength(300);
        c.Property(x => x.Terms).HasMaxLength(20000);
        c.Property(x => x.Currency).HasMaxLength(3);
        c.Property(x => x.Status).HasConversion<string>().HasMaxLength(20);
        c.Property(x => x.FeeModel).HasConversion<string>().HasMaxLength(30);
        c.Property(x => x.PaymentSchedule).HasConversion<string>().HasMaxLength(20);
        c.Property(x => x.FlatFee).HasPrecision(18, 4);
        c.Property(x => x.MinimumGuarantee).HasPrecision(18, 4);
        c.Property(x => x.RevenueSharePercent).HasPrecision(9, 4);
        c.Property(x => x.PerStreamRate).HasPrecision(18, 6);
        c.Property(x => x.Version).IsConcurrencyToken();
        c.HasIndex(x => x.ProviderId);

        var h = modelBuilder.Entity<ContractHistoryEntry>();
        h.ToTable("contract_history");
        h.HasKey(x => x.Id);
        h.Property(x => x.Actor).HasMaxLength(200);
        h.Property(x => x.Change).HasMaxLength(40000);
        h.Property(x => x.PreviousHash).HasMaxLength(64);
        h.Property(x => x.Hash).HasMaxLength(64);
        h.HasIndex(x => new { x.ContractId, x.Sequence }).IsUnique();

        var u = modelBuilder.Entity<PlayUsage>();
        u.ToTable("usage");
        u.HasKey(x => x.SessionId);
        u.HasIndex(x => new { x.TitleId, x.StartedAt });
        u.HasIndex(x => x.StartedAt);

        var r = modelBuilder.Entity<RevenueLine>();
        r.ToTable("revenue");
        r.HasKey(x => x.Id);
        r.Property(x => x.Amount).HasPrecision(18, 4);
        r.Property(x => x.Currency).HasMaxLength(3);
        r.Property(x => x.Source).HasMaxLength(100);
        r.HasIndex(x => x.At);

        var d = modelBuilder.Entity<ContractDelivery>();
        d.ToTable("contract_deliveries");
        d.HasKey(x => x.Id);
        d.HasIndex(x => new { x.ContractId, x.TitleId }).IsUnique();

        var doc = modelBuilder.Entity<ContractDocument>();
        doc.ToTable("contract_documents");
        doc.HasKey(x => x.Id);
        doc.HasIndex(x => x.ContractId);
        doc.Property(x => x.FileName).HasMaxLength(300);
        doc.Property(x => x.Label).HasMaxLength(300);
        doc.Property(x => x.StoredPath).HasMaxLength(1000);
        doc.Property(x => x.Sha256).HasMaxLength(64);
    }
}

internal sealed class SqliteRightsDb(DbContextOptions<SqliteRightsDb> options) : RightsDb(options);

internal sealed class PostgresRightsDb(DbContextOptions<PostgresRightsDb> options) : RightsDb(options);

internal sealed class SqliteRightsDbFactory() : DesignTimeFactory<SqliteRightsDb>(DatabaseProvider.Sqlite, RightsDb.SchemaName);

internal sealed class PostgresRightsDbFactory() : DesignTimeFactory<PostgresRightsDb>(DatabaseProvider.Postgres, RightsDb.SchemaName);

/// <summary>A grant of titles for territories, a window [StartsAt, EndsAt) in UTC, platforms and service models.</summary>
internal sealed class Licence
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    /// <summary>The contract it comes from, when there is one.</summary>
    public Guid? ContractId { get; set; }

    /// <summary>True: every country except <see cref="ExcludedTerritories"/>; false: only <see cref="Territories"/>.</summary>
    public bool Worldwide { get; set; }

    /// <summary>ISO 3166-1 alpha-2 codes, comma-separated, upper case, sorted.</summary>
    public string Territories { get; set; } = "";

    public string ExcludedTerritories { get; set; } = "";

    public DateTimeOffset StartsAt { get; set; }

    public DateTimeOffset EndsAt { get; set; }

    public LicencePlatforms Platforms { get; set; }

    public ServiceModels ServiceModels { get; set; }

    public bool Exclusive { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public List<LicenceTitle> Titles { get; set; } = [];

    public IReadOnlySet<string> TerritorySet => Split(Territories);

    public IReadOnlySet<string> ExcludedSet => Split(ExcludedTerritories);

    private static HashSet<string> Split(string list) =>
        [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}

internal sealed class LicenceTitle
{
    public Guid LicenceId { get; set; }

    public Guid TitleId { get; set; }
}

/// <summary>An expiry alert already raised (so that a restart does not raise it again).</summary>
internal sealed class ExpiryAlert
{
    public Guid LicenceId { get; set; }

    public int DaysAhead { get; set; }

    public DateTimeOffset EndsAt { get; set; }

    public DateTimeOffset RaisedAt { get; set; }
}

/// <summary>A content provider or rights holder.</summary>
internal sealed class Provider
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    /// <summary><c>provider</c>, <c>rights-holder</c> or <c>both</c>.</summary>
    public required string Kind { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public List<ProviderContact> Contacts { get; set; } = [];
}

internal sealed class ProviderContact
{
    public Guid Id { get; set; }

    public Guid ProviderId { get; set; }

    public required string Name { get; set; }

    public string? Email { get; set; }

    public string? Phone { get; set; }

    public string? Role { get; set; }
}

internal sealed class Contract
{
    public Guid Id { get; set; }

    public Guid ProviderId { get; set; }

    public required string Name { get; set; }

    public ContractStatus Status { get; set; }

    public string Terms { get; set; } = "";

    public FeeModel FeeModel { get; set; }

    public string Currency { get; set; } = "EUR";

    public decimal? FlatFee { get; set; }

    public decimal? MinimumGuarantee { get; set; }

    public decimal? RevenueSharePercent { get; set; }

    public decimal? PerStreamRate { get; set; }

    public PaymentSchedule PaymentSchedule { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>The sequence of the last history entry; also the optimistic concurrency token.</summary>
    public int Version { get; set; }
}

/// <summary>One change of a contract: append-only (database triggers), hash-chained to the one before.</summary>
internal sealed class ContractHistoryEntry
{
    public long Id { get; set; }

    public Guid ContractId { get; set; }

    public int Sequence { get; set; }

    public DateTimeOffset At { get; set; }

    public required string Actor { get; set; }

    /// <summary>The change as JSON, exactly as hashed.</summary>
    public required string Change { get; set; }

    public required string PreviousHash { get; set; }

    public required string Hash { get; set; }
}

/// <summary>One playback session as royalties count it: a stream, and its minutes once it ended.</summary>
internal sealed class PlayUsage
{
    public Guid SessionId { get; set; }

    public Guid TitleId { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    public double Seconds { get; set; }
}

/// <summary>Revenue recognised by Billing (<see cref="RevenueRecognised"/>).</summary>
internal sealed class RevenueLine
{
    public Guid Id { get; set; }

    public DateTimeOffset At { get; set; }

    public decimal Amount { get; set; }

    public required string Currency { get; set; }

    /// <summary>Set for revenue earned by one title (a rental or purchase); null for pooled revenue (subscriptions, ads).</summary>
    public Guid? TitleId { get; set; }

    public required string Source { get; set; }
}

/// <summary>A title the contract's provider must deliver by a date (UTC); delivery is tracked in Media's asset library.</summary>
internal sealed class ContractDelivery
{
    public Guid Id { get; set; }

    public Guid ContractId { get; set; }

    public Guid TitleId { get; set; }

    public DateTimeOffset DueAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// A signed document attached to a contract: the file under <c>&lt;DataDir&gt;/rights/documents</c>, its SHA-256 also in the
/// contract's hash chain (entry <see cref="Sequence"/>), so that a swapped file is found by the verifier.
/// </summary>
internal sealed class ContractDocument
{
    public Guid Id { get; set; }

    public Guid ContractId { get; set; }

    public required string FileName { get; set; }

    public string? Label { get; set; }

    /// <summary>Relative to <c>&lt;DataDir&gt;/rights</c>.</summary>
    public required string StoredPath { get; set; }

    public required string Sha256 { get; set; }

    public long SizeBytes { get; set; }

    public int Sequence { get; set; }

    public DateTimeOffset UploadedAt { get; set; }
}
