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
    private readonly int checkpointMegabytes;
    private DuckDBConnection? connection;

    public Warehouse(IOptions<MarqueeOptions> options, IOptions<AnalyticsOptions> analytics)
        : this(PathIn(options.Value.FullDataDir), readOnly: false, analytics.Value.CheckpointMegabytes) { }

    /// <param name="path">The DuckDB file.</param>
    /// <param name="readOnly">Opened read-only (another process may hold it for writing).</param>
    /// <param name="checkpointMegabytes">DuckDB's <c>checkpoint_threshold</c> in MiB; 0 leaves DuckDB's default (16 MiB).</param>
    public Warehouse(string path, bool readOnly, int checkpointMegabytes = 0)
    {
        this.path = path;
        this.readOnly = readOnly;
        this.checkpointMegabytes = checkpointMegabytes;
    }

    /// <summary>The WAL's size in bytes (0 when there is none).</summary>
    public long WalBytes => File.Exists(path + ".wal") ? new FileInfo(path + ".wal").Length : 0;

    /// <summary>Writes the WAL's changes into the file (DuckDB's <c>CHECKPOINT</c>), so a restart has little to replay.</summary>
    public Task CheckpointAsync(CancellationToken ct) => UseAsync(async c =>
    {
        await ExecuteAsync(c, "CHECKPOINT", ct);
        return 0;
    }, ct);

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
          buffer_ms DOUBLE, starved BOOLEAN, throughput DOUBLE, cmcd VARCHAR, given_plan VARCHAR, step BIGINT, id_hash UBIGINT);
        ALTER TABLE events ADD COLUMN IF NOT EXISTS buffer_ms DOUBLE;
        ALTER TABLE events ADD COLUMN IF NOT EXISTS starved BOOLEAN;
        ALTER TABLE events ADD COLUMN IF NOT EXISTS throughput DOUBLE;
        ALTER TABLE events ADD COLUMN IF NOT EXISTS cmcd VARCHAR;
        ALTER TABLE events ADD COLUMN IF NOT EXISTS given_plan VARCHAR;
        ALTER TABLE events ADD COLUMN IF NOT EXISTS step BIGINT;
        ALTER TABLE events ADD COLUMN IF NOT EXISTS id_hash UBIGINT;
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
            await KeyEventsAsync(c, ct);
            if (checkpointMegabytes > 0)
            {
                await ExecuteAsync(c, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"SET checkpoint_threshold = '{checkpointMegabytes}MiB'"), ct);
            }
        }

        connection = c;
        return c;
    }

    /// <summary>
    /// The pipeline finds an event's duplicates by <c>id_hash</c>, DuckDB's 64-bit <c>hash(event_id)</c> kept beside the id
    /// (a probe of integers instead of every id string of the warehouse; a hash match is then confirmed on the id). Rows
    /// without one (loaded before the column existed) get theirs and step 0; and if this DuckDB hashes differently from the
    /// one that wrote them (an upgrade: the hash is DuckDB's, not a documented function), every row's is computed again.
    /// </summary>
    private static async Task KeyEventsAsync(DuckDBConnection c, CancellationToken ct)
    {
        var probe = Convert.ToInt64((await QueryAsync(c, "SELECT CAST(hash('marquee id hash probe') >> 1 AS BIGINT)", new Dictionary<string, object?>(), ct))[0][0],
            System.Globalization.CultureInfo.InvariantCulture);
        var kept = await QueryAsync(c, "SELECT value FROM etl_state WHERE name = 'id_hash_probe'", new Dictionary<string, object?>(), ct);
        var all = kept.Count > 0 && Convert.ToInt64(kept[0][0], System.Globalization.CultureInfo.InvariantCulture) != probe;
        await ExecuteAsync(c, all
            ? "UPDATE events SET id_hash = hash(event_id), step = coalesce(step, 0)"
            : "UPDATE events SET id_hash = hash(event_id), step = coalesce(step, 0) WHERE id_hash IS NULL", ct);
        await ExecuteAsync(c, "INSERT OR REPLACE INTO etl_state VALUES ('id_hash_probe', $p)", ct, ("p", probe));
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

    /// <summary>
    /// R32: rewrites the file: every table is copied into a fresh file (<c>COPY FROM DATABASE</c>), the connection closed and
    /// the fresh file moved over the old one (the next use reopens it). DuckDB neither zeroes the blocks a checkpoint frees
    /// nor, in 1.5 through SQL, trims them (<c>trim_free_blocks</c> is not a setting there; <c>VACUUM</c> reclaims nothing), so
    /// the old values of updated or deleted rows stay readable in the file until their blocks are reused; the copy holds only
    /// the live rows. The time grows with the warehouse (about 0.4 s for 200,000 events, 3 s for 2 million on the dev box).
    /// A crash before the move leaves the old file whole (and a stale <c>.rewrite</c> file, removed by the next rewrite).
    /// </summary>
    public async Task RewriteAsync(CancellationToken ct)
    {
        if (readOnly)
        {
            throw new InvalidOperationException("A read-only warehouse cannot be rewritten.");
        }

        await gate.WaitAsync(ct);
        try
        {
            var c = await OpenAsync(ct);
            var fresh = path + ".rewrite";
            DeleteIfThere(fresh);
            DeleteIfThere(fresh + ".wal");
            var name = (await QueryAsync(c, "SELECT current_database()", new Dictionary<string, object?>(), ct))[0][0]!.ToString()!;
            var file = fresh.Replace("'", "''", StringComparison.Ordinal);
            var database = name.Replace("\"", "\"\"", StringComparison.Ordinal);
            await ExecuteAsync(c, $"ATTACH '{file}' AS marquee_rewrite; COPY FROM DATABASE \"{database}\" TO marquee_rewrite; DETACH marquee_rewrite;", ct);
            // Closing checkpoints the old file and removes its WAL; one still there holds nothing the copy lacks, and it
            // must not be replayed onto the new file.
            await c.DisposeAsync();
            connection = null;
            DeleteIfThere(path + ".wal");
            File.Move(fresh, path, overwrite: true);
            DeleteIfThere(fresh + ".wal"); // DETACH checkpointed the copy: none is expected
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Whether the warehouse's files (the database and its WAL) hold <paramref name="text"/> as raw UTF-8 bytes.</summary>
    public async Task<bool> FilesHoldAsync(string text, CancellationToken ct)
    {
        var needle = System.Text.Encoding.UTF8.GetBytes(text);
        await gate.WaitAsync(ct);
        try
        {
            foreach (var file in new[] { path, path + ".wal" })
            {
                if (File.Exists(file) && await HoldsAsync(file, needle, ct))
                {
                    return true;
                }
            }

            return false;
        }
        finally
        {
            gate.Release();
        }
    }

    private static async Task<bool> HoldsAsync(string file, byte[] needle, CancellationToken ct)
    {
        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, useAsync: true);
        var buffer = new byte[(1 << 20) + needle.Length];
        var kept = 0; // the tail of the previous read, so a needle across two reads is found
        while (true)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(kept, buffer.Length - kept), ct);
            if (read == 0)
            {
                return false;
            }

            var filled = kept + read;
            if (buffer.AsSpan(0, filled).IndexOf(needle) >= 0)
            {
                return true;
            }

            kept = Math.Min(needle.Length - 1, filled);
            buffer.AsSpan(filled - kept, kept).CopyTo(buffer);
        }
    }

    private static void DeleteIfThere(string file)
    {
        if (File.Exists(file))
        {
            File.Delete(file);
        }
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
