using Marquee.Platform.Data;
using Microsoft.EntityFrameworkCore;
using OpenIddict.EntityFrameworkCore.Models;

namespace Marquee.Identity.Oidc;

/// <summary>
/// The OpenID Connect provider's data (OpenIddict's stores): client applications (secrets hashed by OpenIddict),
/// authorizations, and token entries (ids and state, not token payloads). A context of its own, beside
/// <c>IdentityDb</c>, with its own migrations; schema <c>oidc</c> on PostgreSQL, table prefix <c>oidc_</c> on SQLite.
/// </summary>
internal class OidcDb(DbContextOptions options) : ModuleDbContext(options), IModuleDb
{
    public static string SchemaName => "oidc";

    public override string Schema => SchemaName;

    protected override void ConfigureModel(ModelBuilder modelBuilder)
    {
        modelBuilder.UseOpenIddict();
        modelBuilder.Entity<OpenIddictEntityFrameworkCoreApplication>().ToTable("applications");
        modelBuilder.Entity<OpenIddictEntityFrameworkCoreAuthorization>().ToTable("authorizations");
        modelBuilder.Entity<OpenIddictEntityFrameworkCoreScope>().ToTable("scopes");
        modelBuilder.Entity<OpenIddictEntityFrameworkCoreToken>().ToTable("tokens");
    }
}

internal sealed class SqliteOidcDb(DbContextOptions<SqliteOidcDb> options) : OidcDb(options);

internal sealed class PostgresOidcDb(DbContextOptions<PostgresOidcDb> options) : OidcDb(options);

internal sealed class SqliteOidcDbFactory() : DesignTimeFactory<SqliteOidcDb>(DatabaseProvider.Sqlite, OidcDb.SchemaName);

internal sealed class PostgresOidcDbFactory() : DesignTimeFactory<PostgresOidcDb>(DatabaseProvider.Postgres, OidcDb.SchemaName);
