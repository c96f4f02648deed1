using Marquee.Platform.Data;
using Marquee.Platform.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Marquee.Tests.Support;

/// <summary>
/// Migrating every module's database takes about a second per test host, and the suite starts hundreds of hosts. The
/// first storage of a test process migrates one template (a SQLite file, or a PostgreSQL template database) with the
/// product's own <see cref="DatabaseMigrator"/>; every later storage starts as a copy of it, so the migrator finds
/// nothing pending. The migrations themselves are still run and tested: once per process here, and from an empty
/// database by the tests of <c>marquee db migrate</c>, which use folders of their own.
/// </summary>
internal static class MigratedTemplate
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    private static string? sqliteFile;

    private static string? postgresName;

    /// <summary>A migrated SQLite database file (checkpointed, no WAL beside it) to copy as <c>marquee.db</c>.</summary>
    public static async Task<string> SqliteFileAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (sqliteFile is null)
            {
                var folder = Path.Combine(Path.GetTempPath(), "marquee-tests", "template-" + Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(folder);
                await MigrateAsync(new Dictionary<string, string?> { ["Marquee:DataDir"] = folder, ["Marquee:Database:Provider"] = "Sqlite" });
                var file = Path.Combine(folder, "marquee.db");
                await using (var connection = new SqliteConnection($"Data Source={file};Pooling=False"))
                {
                    await connection.OpenAsync();
                    await using var checkpoint = connection.CreateCommand();
                    checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
                    await checkpoint.ExecuteNonQueryAsync();
                }

                SqliteConnection.ClearAllPools();
                AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(folder);
                sqliteFile = file;
            }

            return sqliteFile;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>The name of a migrated PostgreSQL template database on the server of <paramref name="admin"/>.</summary>
    public static async Task<string> PostgresAsync(string admin)
    {
        await Gate.WaitAsync();
        try
        {
            if (postgresName is null)
            {
                await DropTemplatesOfEndedProcessesAsync(admin);
                var name = $"marquee_template_{Environment.ProcessId}_{Guid.NewGuid():N}"[..48];
                await ExecuteAsync(admin, $"CREATE DATABASE \"{name}\"");
                var connectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = false }.ToString();
                var folder = Path.Combine(Path.GetTempPath(), "marquee-tests", "template-" + Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(folder);
                await MigrateAsync(new Dictionary<string, string?>
                {
                    ["Marquee:DataDir"] = folder,
                    ["Marquee:Database:Provider"] = "Postgres",
                    ["ConnectionStrings:Marquee"] = connectionString,
                });
                TryDelete(folder);
                // No one may connect to a template while it is copied; it is dropped when the test process ends.
                await ExecuteAsync(admin, $"ALTER DATABASE \"{name}\" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false");
                AppDomain.CurrentDomain.ProcessExit += (_, _) => DropQuietly(admin, name); // when the test host exits rather than being ended
                postgresName = name;
            }

            return postgresName;
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task MigrateAsync(Dictionary<string, string?> settings)
    {
        settings["Marquee:Roles"] = "worker";
        settings["Logging:LogLevel:Default"] = "Warning";
        var app = MarqueeHost.Build(MarqueeHost.CreateBuilder(["--environment=Production"], settings));
        await using (app)
        {
            await app.Services.GetRequiredService<DatabaseMigrator>().MigrateAsync(CancellationToken.None);
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Templates left by test processes that were ended (the test runner kills its hosts): dropped by the next one.</summary>
    private static async Task DropTemplatesOfEndedProcessesAsync(string admin)
    {
        var stale = new List<string>();
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT datname FROM pg_database WHERE datname LIKE 'marquee\\_template\\_%'", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var name = reader.GetString(0);
                var parts = name.Split('_');
                if (parts.Length > 3 && int.TryParse(parts[2], out var pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
                {
                    stale.Add(name);
                }
            }
        }

        foreach (var name in stale)
        {
            DropQuietly(admin, name);
        }
    }

    private static void DropQuietly(string admin, string name)
    {
        try
        {
            using var connection = new NpgsqlConnection(admin);
            connection.Open();
            // Two commands: DROP DATABASE may not share an (implicit) transaction with another statement.
            using (var unmark = new NpgsqlCommand($"ALTER DATABASE \"{name}\" WITH IS_TEMPLATE false", connection))
            {
                unmark.ExecuteNonQuery();
            }

            using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\"", connection);
            drop.ExecuteNonQuery();
        }
        catch (NpgsqlException)
        {
            // The throwaway server may already be gone.
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder: best effort.
        }
    }
}
