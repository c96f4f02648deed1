using Marquee.Platform.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Identity.Data;

/// <summary>
/// The Identity module's data: ASP.NET Core Identity's accounts, roles, claims, logins, tokens and passkeys (the model
/// of its schema version 3, configured here because the context derives from <see cref="ModuleDbContext"/>, not from
/// <c>IdentityDbContext</c>), plus sign-ups waiting for their code, hashed recovery codes and magic links.
/// </summary>
internal class IdentityDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "identity";

    public override string Schema => SchemaName;

    public DbSet<Account> Accounts => Set<Account>();

    public DbSet<Role> Roles => Set<Role>();

    public DbSet<IdentityUserRole<Guid>> AccountRoles => Set<IdentityUserRole<Guid>>();

    public DbSet<IdentityUserPasskey<Guid>> Passkeys => Set<IdentityUserPasskey<Guid>>();

    public DbSet<PendingSignUp> PendingSignUps => Set<PendingSignUp>();

    public DbSet<RecoveryCode> RecoveryCodes => Set<RecoveryCode>();

    public DbSet<MagicLink> MagicLinks => Set<MagicLink>();

    public DbSet<DeviceSession> Sessions => Set<DeviceSession>();

    public DbSet<Profile> Profiles => Set<Profile>();

    protected override void ConfigureModel(ModelBuilder modelBuilder)
    {
        const int keyLength = 128;
        modelBuilder.Entity<Account>(b =>
        {
            b.ToTable("accounts");
            b.HasKey(u => u.Id);
            b.HasIndex(u => u.NormalizedUserName).HasDatabaseName("ix_accounts_user_name").IsUnique();
            b.HasIndex(u => u.NormalizedEmail).HasDatabaseName("ix_accounts_email");
            b.Property(u => u.ConcurrencyStamp).IsConcurrencyToken();
            b.Property(u => u.UserName).HasMaxLength(256);
            b.Property(u => u.NormalizedUserName).HasMaxLength(256);
            b.Property(u => u.Email).HasMaxLength(256);
            b.Property(u => u.NormalizedEmail).HasMaxLength(256);
            b.Property(u => u.PhoneNumber).HasMaxLength(256);
            b.Property(u => u.TermsVersion).HasMaxLength(40);
            b.Property(u => u.PrivacyVersion).HasMaxLength(40);
            b.Property(u => u.DisplayName).HasMaxLength(100);
            b.HasIndex(u => u.DeleteAfter);
            b.HasMany<IdentityUserClaim<Guid>>().WithOne().HasForeignKey(c => c.UserId).IsRequired();
            b.HasMany<IdentityUserLogin<Guid>>().WithOne().HasForeignKey(l => l.UserId).IsRequired();
            b.HasMany<IdentityUserToken<Guid>>().WithOne().HasForeignKey(t => t.UserId).IsRequired();
            b.HasMany<IdentityUserRole<Guid>>().WithOne().HasForeignKey(r => r.UserId).IsRequired();
            b.HasMany<IdentityUserPasskey<Guid>>().WithOne().HasForeignKey(p => p.UserId).IsRequired();
        });

        modelBuilder.Entity<IdentityUserClaim<Guid>>(b =>
        {
            b.ToTable("account_claims");
            b.HasKey(c => c.Id);
        });

        modelBuilder.Entity<IdentityUserLogin<Guid>>(b =>
        {
            b.ToTable("account_logins");
            b.HasKey(l => new { l.LoginProvider, l.ProviderKey });
            b.Property(l => l.LoginProvider).HasMaxLength(keyLength);
            b.Property(l => l.ProviderKey).HasMaxLength(keyLength);
        });

        modelBuilder.Entity<IdentityUserToken<Guid>>(b =>
        {
            b.ToTable("account_tokens");
            b.HasKey(t => new { t.UserId, t.LoginProvider, t.Name });
            b.Property(t => t.LoginProvider).HasMaxLength(keyLength);
            b.Property(t => t.Name).HasMaxLength(keyLength);
        });

        modelBuilder.Entity<IdentityUserPasskey<Guid>>(b =>
        {
            b.ToTable("passkeys");
            b.HasKey(p => p.CredentialId);
            b.Property(p => p.CredentialId).HasMaxLength(1024); // WebAuthn: at most 1023 bytes
            b.HasIndex(p => p.UserId);
            b.OwnsOne(p => p.Data).ToJson();
        });

        modelBuilder.Entity<Role>(b =>
        {
            b.ToTable("roles");
            b.HasKey(r => r.Id);
            b.HasIndex(r => r.NormalizedName).HasDatabaseName("ix_roles_name").IsUnique();
            b.Property(r => r.ConcurrencyStamp).IsConcurrencyToken();
            b.Property(r => r.Name).HasMaxLength(256);
            b.Property(r => r.NormalizedName).HasMaxLength(256);
            b.HasMany<IdentityUserRole<Guid>>().WithOne().HasForeignKey(ur => ur.RoleId).IsRequired();
            b.HasMany<IdentityRoleClaim<Guid>>().WithOne().HasForeignKey(rc => rc.RoleId).IsRequired();
        });

        modelBuilder.Entity<IdentityUserRole<Guid>>(b =>
        {
            b.ToTable("account_roles");
            b.HasKey(r => new { r.UserId, r.RoleId });
        });

        modelBuilder.Entity<IdentityRoleClaim<Guid>>(b =>
        {
            b.ToTable("role_claims");
            b.HasKey(rc => rc.Id);
        });

        modelBuilder.Entity<PendingSignUp>(b =>
        {
            b.ToTable("pending_sign_ups");
            b.HasKey(p => p.Id);
            b.Property(p => p.Email).HasMaxLength(256);
            b.Property(p => p.NormalizedEmail).HasMaxLength(256);
            b.Property(p => p.PasswordHash).HasMaxLength(512);
            b.Property(p => p.CodeHash).HasMaxLength(128);
            b.Property(p => p.TermsVersion).HasMaxLength(40);
            b.Property(p => p.PrivacyVersion).HasMaxLength(40);
            b.HasIndex(p => p.NormalizedEmail);
            b.HasIndex(p => p.ExpiresAt);
        });

        modelBuilder.Entity<RecoveryCode>(b =>
        {
            b.ToTable("recovery_codes");
            b.HasKey(c => c.Id);
            b.Property(c => c.Hash).HasMaxLength(128);
            b.HasIndex(c => c.AccountId);
            b.HasOne<Account>().WithMany().HasForeignKey(c => c.AccountId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<MagicLink>(b =>
        {
            b.ToTable("magic_links");
            b.HasKey(m => m.Id);
            b.Property(m => m.TokenHash).HasMaxLength(128);
            b.Property(m => m.BrowserHash).HasMaxLength(128);
            b.Property(m => m.Purpose).HasMaxLength(20);
            b.HasIndex(m => m.TokenHash).IsUnique();
            b.HasIndex(m => m.ExpiresAt);
        });

        modelBuilder.Entity<DeviceSession>(b =>
        {
            b.ToTable("sessions");
            b.HasKey(d => d.Id);
            b.Property(d => d.UserAgent).HasMaxLength(120);
            b.Property(d => d.Ip).HasMaxLength(64);
            b.Property(d => d.Country).HasMaxLength(2);
            b.Property(d => d.Method).HasMaxLength(20);
            b.HasIndex(d => d.AccountId);
            b.HasOne<Account>().WithMany().HasForeignKey(d => d.AccountId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<Profile>(b =>
        {
            b.ToTable("profiles");
            b.HasKey(p => p.Id);
            b.Property(p => p.Name).HasMaxLength(40);
            b.Property(p => p.Language).HasMaxLength(16);
            b.Property(p => p.PinHash).HasMaxLength(512);
            b.HasIndex(p => p.AccountId);
            b.HasOne<Account>().WithMany().HasForeignKey(p => p.AccountId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}

internal sealed class SqliteIdentityDb(DbContextOptions<SqliteIdentityDb> options) : IdentityDb(options);

internal sealed class PostgresIdentityDb(DbContextOptions<PostgresIdentityDb> options) : IdentityDb(options);

internal sealed class SqliteIdentityDbFactory() : DesignTimeFactory<SqliteIdentityDb>(DatabaseProvider.Sqlite, IdentityDb.SchemaName);

internal sealed class PostgresIdentityDbFactory() : DesignTimeFactory<PostgresIdentityDb>(DatabaseProvider.Postgres, IdentityDb.SchemaName);

/// <summary>An account: e-mail (also the user name), password hash, MFA, lockout, and the terms it accepted.</summary>
internal sealed class Account : IdentityUser<Guid>
{
    public DateTimeOffset CreatedAt { get; set; }

    public string? TermsVersion { get; set; }

    public DateTimeOffset? TermsAcceptedAt { get; set; }

    public string? PrivacyVersion { get; set; }

    public DateTimeOffset? PrivacyAcceptedAt { get; set; }

    /// <summary>The RFC 6238 time step of the last TOTP code accepted: a code of that step or earlier is refused (no replay).</summary>
    public long LastTotpStep { get; set; }

    /// <summary>The name the account shows (its e-mail when none).</summary>
    public string? DisplayName { get; set; }

    /// <summary>When the holder asked to delete the account; null when not marked for deletion.</summary>
    public DateTimeOffset? DeletionRequestedAt { get; set; }

    /// <summary>When the deletion sweep erases the account (the grace period after the request); signing in before cancels.</summary>
    public DateTimeOffset? DeleteAfter { get; set; }
}

internal sealed class Role : IdentityRole<Guid>;

/// <summary>A sign-up waiting for its e-mailed code: the account exists only once the code is given.</summary>
internal sealed class PendingSignUp
{
    public Guid Id { get; set; }

    public required string Email { get; set; }

    public required string NormalizedEmail { get; set; }

    /// <summary>Hashed with the account's password hasher, so that the verified account keeps it.</summary>
    public required string PasswordHash { get; set; }

    /// <summary>SHA-256 of the code, keyed by the sign-up's id.</summary>
    public required string CodeHash { get; set; }

    public int Attempts { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    public required string TermsVersion { get; set; }

    public required string PrivacyVersion { get; set; }

    public DateTimeOffset AcceptedAt { get; set; }
}

/// <summary>A one-use MFA recovery code, stored hashed.</summary>
internal sealed class RecoveryCode
{
    public Guid Id { get; set; }

    public Guid AccountId { get; set; }

    public required string Hash { get; set; }

    public DateTimeOffset? UsedAt { get; set; }
}

/// <summary>A sign-in link sent by e-mail: single use, short-lived, usable only by the browser that asked.</summary>
internal sealed class MagicLink
{
    public Guid Id { get; set; }

    public Guid? AccountId { get; set; }

    public required string TokenHash { get; set; }

    public required string BrowserHash { get; set; }

    /// <summary><see cref="MagicLinks.SignIn"/> or <see cref="MagicLinks.Reset"/>.</summary>
    public string Purpose { get; set; } = MagicLinks.SignIn;

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? UsedAt { get; set; }
}

/// <summary>
/// One signed-in browser or app: created at each sign-in, named in the session cookie (claim
/// <see cref="Contracts.IdentityClaims.Session"/>), checked on each request; revoking it ends that cookie at once.
/// </summary>
internal sealed class DeviceSession
{
    public Guid Id { get; set; }

    public Guid AccountId { get; set; }

    /// <summary>A short summary of the user agent, e.g. "Chrome on Linux".</summary>
    public string? UserAgent { get; set; }

    public string? Ip { get; set; }

    public string? Country { get; set; }

    /// <summary>How it signed in: pwd, mfa, passkey, link, sign-up.</summary>
    public string? Method { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset LastSeenAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>A household profile of an account: its own maturity limit, optional PIN, language, history and resume positions.</summary>
internal sealed class Profile
{
    public Guid Id { get; set; }

    public Guid AccountId { get; set; }

    public required string Name { get; set; }

    public bool IsKids { get; set; }

    /// <summary>The highest minimum age of titles this profile may watch; null for no limit.</summary>
    public int? MaturityLimit { get; set; }

    /// <summary>The PIN hashed with the password hasher; null when the profile has no PIN.</summary>
    public string? PinHash { get; set; }

    public string Language { get; set; } = "en";

    public DateTimeOffset CreatedAt { get; set; }
}
