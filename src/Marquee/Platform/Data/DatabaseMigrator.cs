using System.Globalization;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Marquee.Platform.Data;

/// <summary>Applies every module's migrations, in registration order, and sets SQLite to WAL mode.</summary>
internal sealed class DatabaseMigrator(IServiceProvider services, DatabaseSettings settings, IEnumerable<ModuleDatabase> modules, ILogger<DatabaseMigrator> logger)
{
    public async Task<IReadOnlyList<string>> MigrateAsync(CancellationToken cancellationToken)
    {
        var applied = new List<string>();
        try
        {
            if (settings.Provider == DatabaseProvider.Sqlite)
            {
                await EnableWalAsync(cancellationToken);
            }

            foreach (var module in modules)
            {
                await using var scope = services.CreateAsyncScope();
                var db = (DbContext)scope.ServiceProvider.GetRequiredService(module.ContextType);
                var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
                if (pending.Count > 0)
                {
                    await db.Database.MigrateAsync(cancellationToken);
                    logger.LogInformation("Applied {Count} migration(s) to {Module}: {Migrations}", pending.Count, module.Schema, string.Join(", ", pending));
                    applied.AddRange(pending.Select(m => $"{module.Schema}: {m}"));
                }
            }

            if (settings.Provider == DatabaseProvider.Postgres && !string.IsNullOrWhiteSpace(settings.AppRole))
            {
                _ = await GrantAppRoleAsync(settings.AppRole, cancellationToken);
            }
        }
        catch (Exception ex) when (IsUnreachable(ex))
        {
            throw new StartupException($"Cannot reach the database ({settings.Describe()}): {Innermost(ex).Message}", ex);
        }

        return applied;
    }

    /// <summary>
    /// R24: the app's role gets what it needs on every module schema, but no UPDATE or DELETE on the append-only tables
    /// (those with an <c>*_append_only</c> trigger) and only SELECT on the migration histories. Run by the owner after
    /// migrating, every time (a new table gets its grants with the migration that creates it). Idempotent.
    /// </summary>
    private async Task<bool> GrantAppRoleAsync(string role, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(settings.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var me = await CurrentUserAsync(connection, cancellationToken);
        if (string.Equals(me, role, StringComparison.Ordinal))
        {
            // The app itself (MigrateOnStart, or the migrator run with the app's connection string and nothing pending):
            // it may not grant; the owner's next 'marquee db migrate' does.
            logger.LogWarning("Connected as the app role {Role}: its grants were not refreshed; run 'marquee db migrate' as the owner of the schemas", role);
            return false;
        }

        await using (var exists = new NpgsqlCommand("SELECT count(*) FROM pg_roles WHERE rolname = $1", connection) { Parameters = { new() { Value = role } } })
        {
            if ((long)(await exists.ExecuteScalarAsync(cancellationToken))! == 0)
            {
                throw new StartupException($"Marquee:Database:AppRole '{role}' is not a role of {settings.Describe()}; create it first (CREATE ROLE ... LOGIN PASSWORD ...).");
            }
        }

        var schemas = modules.Select(m => m.Schema).Distinct(StringComparer.Ordinal).ToList();
        var appendOnly = new List<string>();
        await using (var find = new NpgsqlCommand("""
            SELECT DISTINCT format('%I.%I', n.nspname, c.relname) FROM pg_trigger t
              JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT t.tgisinternal AND t.tgname LIKE '%append\_only' AND n.nspname = ANY($1)
             ORDER BY 1
            """, connection) { Parameters = { new() { Value = schemas.ToArray() } } })
        await using (var reader = await find.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                appendOnly.Add(reader.GetString(0));
            }
        }

        var r = Quote(role);
        var sql = new System.Text.StringBuilder();
        foreach (var schema in schemas)
        {
            var s = Quote(schema);
            sql.AppendLine(CultureInfo.InvariantCulture, $"""
                GRANT USAGE ON SCHEMA {s} TO {r};
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r};
                GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r};
                GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} TO {r};
                REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {s}."__migrations" FROM {r};
                """);
        }

        foreach (var table in appendOnly)
        {
            sql.AppendLine(CultureInfo.InvariantCulture, $"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {r};");
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var grant = new NpgsqlCommand(sql.ToString(), connection, transaction))
        {
            await grant.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Granted role {Role} the app's rights on {Schemas}; append-only (SELECT, INSERT): {Tables}", role, string.Join(", ", schemas), string.Join(", ", appendOnly));
        GrantedAppendOnly = appendOnly;
        return true;
    }

    /// <summary>The append-only tables of the last grant to the app role (null: no grant in this process).</summary>
    public IReadOnlyList<string>? GrantedAppendOnly { get; private set; }

    /// <summary>
    /// R24: with <c>Marquee:Database:AppRole</c> set on PostgreSQL, the app must log in as that role (not as the owner,
    /// whose rights the grants do not limit).
    /// </summary>
    public async Task CheckAppRoleAsync(CancellationToken cancellationToken)
    {
        var role = settings.AppRole;
        if (settings.Provider != DatabaseProvider.Postgres || string.IsNullOrWhiteSpace(role))
        {
            return;
        }

        await using var connection = new NpgsqlConnection(settings.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var me = await CurrentUserAsync(connection, cancellationToken);
        if (!string.Equals(me, role, StringComparison.Ordinal))
        {
            throw new StartupException($"ConnectionStrings:Marquee logs in as '{me}', but Marquee:Database:AppRole is '{role}': the app runs as that role ({settings.Describe()}).");
        }
    }

    private static async Task<string> CurrentUserAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var who = new NpgsqlCommand("SELECT current_user", connection);
        return (string)(await who.ExecuteScalarAsync(cancellationToken))!;
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public async Task<IReadOnlyList<string>> PendingAsync(CancellationToken cancellationToken)
    {
        var pending = new List<string>();
        foreach (var module in modules)
        {
            await using var scope = services.CreateAsyncScope();
            var db = (DbContext)scope.ServiceProvider.GetRequiredService(module.ContextType);
            pending.AddRange((await db.Database.GetPendingMigrationsAsync(cancellationToken)).Select(m => $"{module.Schema}: {m}"));
        }

        return pending;
    }

    private async Task EnableWalAsync(CancellationToken cancellationToken)
    {
        var file = new SqliteConnectionStringBuilder(settings.ConnectionString).DataSource;
        var folder = Path.GetDirectoryName(Path.GetFullPath(file));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }

        await using var connection = new SqliteConnection(settings.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        await command.ExecuteScalarAsync(cancellationToken);
    }

    internal static bool IsUnreachable(Exception ex) =>
        Innermost(ex) is SocketException or TimeoutException
        || ex is NpgsqlException { IsTransient: true }
        || (ex is PostgresException pg && pg.SqlState is "3D000" or "28P01" or "28000")
        || ex is SqliteException { SqliteErrorCode: 14 }; // SQLITE_CANTOPEN

    internal static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }
}
