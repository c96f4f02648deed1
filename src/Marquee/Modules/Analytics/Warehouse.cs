using System.Data.Common;
using DuckDB.NET.Data;
using Marquee.Platform;
using Microsoft.Extensions.Options;

namespace Marquee.Analytics;

/// <summary>
/// The analytics warehouse: an embedded DuckDB file (<c>&lt;DataDir&gt;/analytics/warehouse.duckdb</c>). DuckDB allows one
/// writing process: the server holds it open; <c>marquee kpi</c> without a server opens it read-only. One connection,
/// used by one caller at a time (the ETL's day rebuilds are single transactions, so readers never see half a day).
/// </summary>
internal sealed class Warehouse : IAsyncDisposable
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly string path;
    private readonly bool readOnly;
    private DuckDBConnection? connection;

    public Warehouse(IOptions<MarqueeOptions> options) : this(PathIn(options.Value.FullDataDir), readOnly: false) { }

    public Warehouse(string path, bool readOnly)
    {
        this.path = path;
        this.readOnly = readOnly;
    }

    public static string PathIn(string dataDir) => Path.Combine(dataDir, "analytics", "warehouse.duckdb");

    public string FilePath => path;

    /// <summary>The tables. Times are UTC timestamps; <c>day</c> is the UTC day of the client's time.</summary>
    public const string Schema = """
        CREATE TABLE IF NOT EXISTS etl_state (name VARCHAR PRIMARY KEY, value BIGINT);
        CREATE TABLE IF NOT EXISTS titles (title_id VARCHAR PRIMARY KEY, name VARCHAR, genre VARCHAR, duration_s DOUBLE);
        CREATE TABLE IF NOT EXISTS events (
          event_id VARCHAR, type VARCHAR, ts TIMESTAMP, day DATE, received_at TIMESTAMP, user_id VARCHAR, session_id VARCHAR,
          title_id VARCHAR, device VARCHAR, country VARCHAR, plan VARCHAR, position DOUBLE, duration DOUBLE, bitrate INTEGER,
          ms DOUBLE, amount BIGINT, currency VARCHAR, status VARCHAR, code VARCHAR, query VARCHAR, path VARCHAR, channel VARCHAR,
          buffer_ms DOUBLE, starved BOOLEAN, throughput DOUBLE, cmcd VARCHAR, given_plan VARCHAR);
        ALTER TABLE events ADD COLUMN IF NOT EXISTS buffer_ms DOUBLE;
        ALTER TABLE events ADD COLUMN IF NOT EXISTS starved BOOLEAN;
        ALTER TABLE events ADD COLUMN IF NOT EXISTS throughput DOUBLE;
        ALTER TABLE events ADD COLUMN IF NOT EXISTS cmcd VARCHAR;
        ALTER TABLE events ADD COLUMN IF NOT EXISTS given_plan VARCHAR;
        DROP TABLE IF EXISTS main.stage;
        CREATE TABLE IF NOT EXISTS sessions (
          session_id VARCHAR, day DATE, user_id VARCHAR, title_id VARCHAR, title_name VARCHAR, genre VARCHAR, device VARCHAR,
          country VARCHAR, plan VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP, requested BOOLEAN, started BOOLEAN,
          completed BOOLEAN, max_position DOUBLE, duration DOUBLE, watch_s DOUBLE, tts_ms DOUBLE, rebuffers BIGINT,
          rebuffer_ms DOUBLE, errors BIGINT, avg_bitrate DOUBLE);
        CREATE TABLE IF NOT EXISTS user_days (day DATE, user_id VARCHAR, device VARCHAR, country VARCHAR, plan VARCHAR, first_ts TIMESTAMP);
        ALTER TABLE user_days ADD COLUMN IF NOT EXISTS first_ts TIMESTAMP;
        CREATE TABLE IF NOT EXISTS daily_rollup (
          day DATE, dim VARCHAR, value VARCHAR, sessions BIGINT, requested BIGINT, started BIGINT, completed BIGINT,
          watch_s DOUBLE, rebuffers BIGINT, rebuffer_ms DOUBLE, tts_ms_sum DOUBLE, tts_n BIGINT, errors BIGINT, viewers BIGINT);
        """;

    private async Task<DuckDBConnection> OpenAsync(CancellationToken ct)
    {
        if (connection is not null)
        {
            return connection;
        }

        if (!readOnly)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        }
        else if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No analytics warehouse at {path} yet.", path);
        }

        var c = new DuckDBConnection(readOnly ? $"Data Source={path};access_mode=READ_ONLY" : $"Data Source={path}");
        await c.OpenAsync(ct);
        if (!readOnly)
        {
            await using var cmd = c.CreateCommand();
            cmd.CommandText = Schema;
            await cmd.ExecuteNonQueryAsync(ct);
        }

        connection = c;
        return c;
    }

    /// <summary>Runs <paramref name="work"/> with the connection, alone.</summary>
    public async Task<T> UseAsync<T>(Func<DuckDBConnection, Task<T>> work, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            return await work(await OpenAsync(ct));
        }
        finally
        {
            gate.Release();
        }
    }

    public Task<List<object?[]>> QueryAsync(string sql, IReadOnlyDictionary<string, object?> parameters, CancellationToken ct) =>
        UseAsync(c => QueryAsync(c, sql, parameters, ct), ct);

    public static async Task<List<object?[]>> QueryAsync(DuckDBConnection c, string sql, IReadOnlyDictionary<string, object?> parameters, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.Add(new DuckDBParameter(name, value));
        }

        var rows = new List<object?[]>();
        await using DbDataReader reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    public static async Task ExecuteAsync(DuckDBConnection c, string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.Add(new DuckDBParameter(name, value));
        }

        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (connection is not null)
        {
            await connection.DisposeAsync();
            connection = null;
        }

        gate.Dispose();
    }
}
