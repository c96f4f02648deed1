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
        }
        catch (Exception ex) when (IsUnreachable(ex))
        {
            throw new StartupException($"Cannot reach the database ({settings.Describe()}): {Innermost(ex).Message}", ex);
        }

        return applied;
    }

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
