using Npgsql;

namespace Marquee.Tests.Support;

/// <summary>
/// A database of its own for one test host. The provider comes from <c>MARQUEE_TEST_PROVIDER</c> (Sqlite, the default,
/// or Postgres); for Postgres, <c>MARQUEE_TEST_PG</c> is a connection string to a server where the user may create
/// databases, and each test host gets a fresh database that is dropped afterwards.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private TestDatabase(string provider, string? connectionString, string? adminConnectionString, string? databaseName)
    {
        Provider = provider;
        ConnectionString = connectionString;
        AdminConnectionString = adminConnectionString;
        DatabaseName = databaseName;
    }

    public string Provider { get; }

    /// <summary>Null on SQLite: the file in the data folder is the default.</summary>
    public string? ConnectionString { get; }

    private string? AdminConnectionString { get; }

    private string? DatabaseName { get; }

    public static bool IsPostgres =>
        string.Equals(Environment.GetEnvironmentVariable("MARQUEE_TEST_PROVIDER"), "Postgres", StringComparison.OrdinalIgnoreCase);

    /// <summary>A new database; <paramref name="migrated"/> starts it as a copy of <see cref="MigratedTemplate"/> (PostgreSQL; SQLite's file is copied by <see cref="TestStorage"/>).</summary>
    public static async Task<TestDatabase> CreateAsync(bool migrated = true)
    {
        if (!IsPostgres)
        {
            return new TestDatabase("Sqlite", null, null, null);
        }

        var admin = Environment.GetEnvironmentVariable("MARQUEE_TEST_PG")
                    ?? throw new InvalidOperationException("MARQUEE_TEST_PROVIDER=Postgres needs MARQUEE_TEST_PG, a connection string to a PostgreSQL server.");
        var name = $"marquee_test_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            var template = migrated ? $" TEMPLATE \"{await MigratedTemplate.PostgresAsync(admin)}\"" : "";
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"{template}", connection);
            await command.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = true };
        return new TestDatabase("Postgres", builder.ToString(), admin, name);
    }

    public IDictionary<string, string?> Settings() => new Dictionary<string, string?>
    {
        ["Marquee:Database:Provider"] = Provider,
        ["ConnectionStrings:Marquee"] = ConnectionString,
    };

    public async ValueTask DisposeAsync()
    {
        if (AdminConnectionString is null || DatabaseName is null)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{DatabaseName}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }
}
