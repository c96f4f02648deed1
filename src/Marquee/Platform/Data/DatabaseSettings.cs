using Microsoft.Data.Sqlite;
using Npgsql;

namespace Marquee.Platform.Data;

/// <summary>The resolved database choice: provider and connection string, read once from configuration.</summary>
public sealed record DatabaseSettings(DatabaseProvider Provider, string ConnectionString)
{
    /// <summary>PostgreSQL: <see cref="DatabaseOptions.AppRole"/>, the role the app logs in as (R24); null when one role does both.</summary>
    public string? AppRole { get; init; }

    public static DatabaseSettings From(IConfiguration configuration)
    {
        var options = configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
        if (!DatabaseOptions.TryParseProvider(options.Provider, out var provider))
        {
            throw new StartupException(
                $"Marquee:Database:Provider '{options.Provider}' is not known; use Sqlite or Postgres.");
        }

        var configured = configuration.GetConnectionString("Marquee");
        if (provider == DatabaseProvider.Postgres)
        {
            if (string.IsNullOrWhiteSpace(configured))
            {
                throw new StartupException(
                    "ConnectionStrings:Marquee is required when Marquee:Database:Provider is Postgres.");
            }

            try
            {
                _ = new NpgsqlConnectionStringBuilder(configured);
            }
            catch (ArgumentException ex)
            {
                throw new StartupException($"ConnectionStrings:Marquee is not a valid PostgreSQL connection string: {ex.Message}");
            }

            return new DatabaseSettings(provider, configured) { AppRole = string.IsNullOrWhiteSpace(options.AppRole) ? null : options.AppRole.Trim() };
        }

        if (string.IsNullOrWhiteSpace(configured))
        {
            var dataDir = (configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions()).FullDataDir;
            configured = new SqliteConnectionStringBuilder
            {
                DataSource = Path.Combine(dataDir, "marquee.db"),
                Pooling = true,
                DefaultTimeout = 30,
            }.ToString();
        }

        try
        {
            _ = new SqliteConnectionStringBuilder(configured);
        }
        catch (ArgumentException ex)
        {
            throw new StartupException($"ConnectionStrings:Marquee is not a valid SQLite connection string: {ex.Message}");
        }

        return new DatabaseSettings(provider, configured);
    }

    /// <summary>Where the database lives, for messages: never the password.</summary>
    public string Describe()
    {
        if (Provider == DatabaseProvider.Sqlite)
        {
            return $"SQLite file {new SqliteConnectionStringBuilder(ConnectionString).DataSource}";
        }

        var b = new NpgsqlConnectionStringBuilder(ConnectionString);
        // A multi-host list (fail-over: "Host=a:5432,b:5432") carries its ports; one host takes Port.
        var at = b.Host is { } h && h.Contains(',', StringComparison.Ordinal) ? h : $"{b.Host}:{b.Port}";
        return $"PostgreSQL at {at} database {b.Database ?? b.Username}";
    }
}
