using System.Globalization;
using System.Text.Json;
using DuckDB.NET.Data;
using Marquee.Analytics.Data;
using Marquee.Catalog.Contracts;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Analytics;

/// <summary>
/// The ETL from the spool (<see cref="EventSpool"/>) into the warehouse. Incremental: each step takes the whole spool
/// records past the position committed for their writer directory (<c>etl_state</c> <c>spool:&lt;dir&gt;</c>), has DuckDB's
/// JSON reader insert their events into <c>events</c> as one step (<c>events.step</c>; the temporary view <c>stage</c> is
/// that step's rows), removes duplicates set-wise (an id twice in the step, or already in <c>events</c>: counted in
/// <c>etl_state.duplicates</c>) and recomputes only what they touch: their sessions, their users' days and the roll-ups
/// of their days (a late event falls in its own, earlier day). The load, the recompute, the duplicate count and the new
/// spool position commit in ONE DuckDB transaction, so a crash replays at most the uncommitted records (idempotent).
/// Loaded segments are deleted; a dead writer's directory (its process ended) is removed once loaded.
/// Rows of the relational raw table (where events landed before the spool) are still taken first, from their own
/// watermark (<c>raw_seq</c>), so an upgraded deployment loses nothing.
/// </summary>
internal sealed class Pipeline(IServiceScopeFactory scopes, Warehouse warehouse, EventSpool spool, IOptions<AnalyticsOptions> options, ILogger<Pipeline> log)
{
    private const int BatchRows = 100_000;

    private readonly SemaphoreSlim step = new(1, 1);
    private readonly Dictionary<string, EventSpool.Cursor> cursors = new(StringComparer.Ordinal);

    /// <summary>Events the server records about a user that are not the user's own activity (they do not make a user active).</summary>
    private const string ServerBookkeeping = "'subscription', 'payment', 'asset_ready', 'cmcd'";

    private static readonly string PlayerTypes = string.Join(",", new[]
    {
        EventSchema.PlayRequest, EventSchema.FirstFrame, EventSchema.Heartbeat, EventSchema.RebufferStart, EventSchema.RebufferEnd,
        EventSchema.BitrateSwitch, EventSchema.Error, EventSchema.End,
    }.Select(t => $"'{t}'"));

    /// <summary>The dimensions the roll-ups and metrics are cut by: name, then the sessions column.</summary>
    public static readonly IReadOnlyDictionary<string, string> Dimensions = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["title"] = "coalesce(title_name, title_id)", ["genre"] = "genre", ["device"] = "device", ["country"] = "country", ["plan"] = "plan",
    };

    /// <summary>
    /// One step: legacy raw rows if any, else the spool records of one writer directory past its position (at most
    /// <see cref="AnalyticsOptions.LoadBatchEvents"/> events). Returns how much it took (0: caught up).
    /// </summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        await step.WaitAsync(ct);
        try
        {
            return await RunOnceCoreAsync(ct);
        }
        finally
        {
            step.Release();
        }
    }

    private async Task<int> RunOnceCoreAsync(CancellationToken ct)
    {
        var legacy = await RunRawOnceAsync(ct);
        return legacy > 0 ? legacy : await RunSpoolOnceAsync(ct);
    }

    /// <summary>Takes everything spooled so far (this process's current segment closed first) into the warehouse.</summary>
    private async Task CatchUpCoreAsync(CancellationToken ct)
    {
        await spool.RollAsync(ct);
        while (await RunOnceCoreAsync(ct) > 0)
        {
        }
    }

    private async Task<int> RunSpoolOnceAsync(CancellationToken ct)
    {
        if (File.Exists(LoadFile))
        {
            File.Delete(LoadFile); // one left by a step cut short (a crash): it holds loaded or replayable events, never the only copy
        }

        var state = await StateAsync(ct);
        var existing = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dir in spool.Directories())
        {
            var name = Path.GetFileName(dir);
            existing.Add(name);
            var after = state.GetValueOrDefault("spool:" + name);
            cursors.TryGetValue(name, out var hint);
            var (records, cursor) = EventSpool.Read(dir, after, Math.Max(1, options.Value.LoadBatchEvents), hint);
            if (cursor is not null)
            {
                cursors[name] = cursor;
            }

            if (records.Count == 0)
            {
                if (!spool.IsLive(dir))
                {
                    Directory.Delete(dir, recursive: true); // its writer ended and every whole record is loaded (a torn tail was never acknowledged)
                    cursors.Remove(name);
                    existing.Remove(name);
                }
                else
                {
                    EventSpool.DeleteLoaded(dir, after);
                }

                continue;
            }

            var taken = await LoadAsync(name, records, ct);
            EventSpool.DeleteLoaded(dir, records[^1].Number);
            return Math.Max(taken, records.Count);
        }

        // The positions of directories that are gone move into one total (the status's counts stay monotonic).
        var gone = state.Keys.Where(k => k.StartsWith("spool:", StringComparison.Ordinal) && !existing.Contains(k["spool:".Length..])).ToList();
        if (gone.Count > 0)
        {
            await warehouse.UseAsync(async c =>
            {
                await InTransactionAsync(c, async () =>
                {
                    foreach (var key in gone)
                    {
                        var name = key["spool:".Length..];
                        await Warehouse.ExecuteAsync(c, "INSERT INTO etl_state VALUES ('spool_retired', $n) ON CONFLICT (name) DO UPDATE SET value = value + EXCLUDED.value", ct,
                            ("n", state.GetValueOrDefault("spool_ev:" + name)));
                        await Warehouse.ExecuteAsync(c, "DELETE FROM etl_state WHERE name = $a OR name = $b", ct, ("a", key), ("b", "spool_ev:" + name));
                    }
                }, ct);
                return 0;
            }, ct);
        }

        return 0;
    }

    /// <summary>The step's load file for DuckDB's JSON reader, beside the warehouse (deleted after each step).</summary>
    private string LoadFile => Path.Combine(Path.GetDirectoryName(warehouse.FilePath)!, "load.ndjson");

    private async Task<int> LoadAsync(string name, List<EventSpool.SpoolRecord> records, CancellationToken ct)
    {
        var phases = new PhaseTimer(log.IsEnabled(LogLevel.Debug));
        long spooled = 0, known = 0;
        foreach (var r in records)
        {
            spooled += r.Count;
            known += r.Duplicates;
        }

        // The records' NDJSON goes to DuckDB as it is (each line given its receive time), and DuckDB's own JSON reader puts
        // the events straight into the events table: they are not parsed a second time in .NET, appended value by value,
        // nor copied through a stage table.
        var file = LoadFile;
        WriteLoadFile(file, records);
        phases.Mark("write");
        var last = records[^1].Number;
        var loaded = 0;
        try
        {
            await warehouse.UseAsync(async c =>
            {
                await TempTablesAsync(c, ct);
                await InTransactionAsync(c, async () =>
                {
                    var (step, staged, duplicates) = await LoadStepAsync(c, file, phases, ct);
                    loaded = staged;
                    await PlanAndRecomputeAsync(c, step, phases, ct);
                    await Warehouse.ExecuteAsync(c, "INSERT OR REPLACE INTO etl_state VALUES ($k, $v)", ct, ("k", "spool:" + name), ("v", last));
                    await Warehouse.ExecuteAsync(c, "INSERT INTO etl_state VALUES ($k, $v) ON CONFLICT (name) DO UPDATE SET value = value + EXCLUDED.value", ct, ("k", "spool_ev:" + name), ("v", spooled));
                    if (duplicates + known > 0)
                    {
                        await Warehouse.ExecuteAsync(c, "INSERT INTO etl_state VALUES ('duplicates', $v) ON CONFLICT (name) DO UPDATE SET value = value + EXCLUDED.value", ct, ("v", duplicates + known));
                    }
                }, ct);
                phases.Mark("commit");
                return 0;
            }, ct);
        }
        finally
        {
            File.Delete(file);
        }

        if (phases.Enabled)
        {
            PipelineLog.Phases(log, loaded, phases.ToString());
        }

        return loaded;
    }

    /// <summary>
    /// Inside the step's transaction: the load file's events into <c>events</c> under a new step number, the titles they
    /// name known, and the duplicates among them removed (an id twice in the step, or already in the warehouse: a replay,
    /// another node, a late resend). The step's rows are then the <c>stage</c> view. Returns the step, the events read, and
    /// the duplicates removed.
    /// </summary>
    private async Task<(long Step, int Staged, long Duplicates)> LoadStepAsync(DuckDBConnection c, string file, PhaseTimer phases, CancellationToken ct)
    {
        var step = await CountAsync(c, "SELECT coalesce(max(value), 0) + 1 FROM etl_state WHERE name = 'load_step'", ct);
        await Warehouse.ExecuteAsync(c, "INSERT OR REPLACE INTO etl_state VALUES ('load_step', $s)", ct, ("s", step));
        await InsertFromFileAsync(c, file, step, ct);
        await Warehouse.ExecuteAsync(c, $"""
            CREATE OR REPLACE TEMP VIEW stage AS
            SELECT event_id, type, ts, day, received_at, user_id, session_id, title_id, device, country, given_plan AS plan, position,
                   duration, bitrate, ms, amount, currency, status, code, query, path, channel, buffer_ms, starved, throughput, cmcd
            FROM events WHERE step = {step};
            """, ct);
        phases.Mark("load");
        var staged = (int)await CountAsync(c, "SELECT count(*) FROM stage", ct);
        var duplicates = await RemoveDuplicatesAsync(c, step, ct);
        phases.Mark("dedup");
        await using var scope = scopes.CreateAsyncScope();
        var ids = await Warehouse.QueryAsync(c, "SELECT DISTINCT title_id FROM stage WHERE title_id IS NOT NULL", new Dictionary<string, object?>(), ct);
        await UpsertTitlesAsync(c, await TitlesAsync(scope.ServiceProvider, ids.Select(r => Guid.Parse((string)r[0]!)), ct), ct);
        phases.Mark("titles");
        return (step, staged, duplicates);
    }

    /// <summary>
    /// Removes the step's duplicates set-wise: the first of an id in the step stays (by receive time, then row), and an id
    /// already in the warehouse goes. Candidates are found by <c>id_hash</c> (integers: the step's against the warehouse's)
    /// and confirmed on the id itself, so a hash collision removes nothing.
    /// </summary>
    private static async Task<long> RemoveDuplicatesAsync(DuckDBConnection c, long step, CancellationToken ct)
    {
        await Warehouse.ExecuteAsync(c, $"""
            CREATE OR REPLACE TEMP TABLE dup_hashes AS
            SELECT id_hash FROM events WHERE step = {step} GROUP BY id_hash HAVING count(*) > 1
            UNION
            SELECT e.id_hash FROM events e WHERE (e.step < {step} OR e.step IS NULL) AND e.id_hash IN (SELECT id_hash FROM events WHERE step = {step});
            """, ct);
        if (await CountAsync(c, "SELECT count(*) FROM dup_hashes", ct) == 0)
        {
            return 0;
        }

        var before = await CountAsync(c, $"SELECT count(*) FROM events WHERE step = {step}", ct);
        await Warehouse.ExecuteAsync(c, $"""
            DELETE FROM events WHERE step = {step} AND rowid IN (
              SELECT x.r FROM (
                SELECT s.rowid AS r, s.event_id, row_number() OVER (PARTITION BY s.event_id ORDER BY s.received_at, s.rowid) AS k
                FROM events s WHERE s.step = {step} AND s.id_hash IN (SELECT id_hash FROM dup_hashes)) x
              WHERE x.k > 1 OR x.event_id IN (
                SELECT e.event_id FROM events e WHERE (e.step < {step} OR e.step IS NULL) AND e.id_hash IN (SELECT id_hash FROM dup_hashes)));
            """, ct);
        return before - await CountAsync(c, $"SELECT count(*) FROM events WHERE step = {step}", ct);
    }

    /// <summary>
    /// The records' events as one NDJSON file for DuckDB's reader: each line is the spooled event with its record's receive
    /// time (<c>_t</c>, microseconds since the epoch) put in front; the bytes are copied, not parsed (every spooled line is
    /// one object of the schema's members: serialised, or copied as sent when the collector found it copyable, see
    /// <see cref="EventSchema.Parse(ReadOnlySpan{byte}, out int)"/>). DuckDB keeps the file's order in the stage (insertion order is preserved), so the first of a
    /// duplicated id stays first.
    /// </summary>
    private static void WriteLoadFile(string path, List<EventSpool.SpoolRecord> records)
    {
        using var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> prefix = stackalloc byte[64];
        foreach (var r in records)
        {
            var micros = (r.ReceivedAt.UtcTicks - DateTime.UnixEpoch.Ticks) / 10;
            var rest = r.Payload.AsSpan();
            while (!rest.IsEmpty)
            {
                var end = rest.IndexOf((byte)'\n');
                var line = end < 0 ? rest : rest[..end];
                rest = end < 0 ? default : rest[(end + 1)..];
                if (line.Length < 2 || line[0] != (byte)'{')
                {
                    continue;
                }

                System.Text.Unicode.Utf8.TryWrite(prefix, CultureInfo.InvariantCulture, $"{{\"_t\":{micros},", out var written);
                output.Write(prefix[..written]);
                output.Write(line[1..]);
                output.WriteByte((byte)'\n');
            }
        }
    }

    /// <summary>
    /// The load file into the events table, read by DuckDB, as step <paramref name="step"/>: device and country
    /// <c>unknown</c> and the plan <c>free</c> when the event did not say (a subscriber's plan is set after, see
    /// <see cref="PlanAndRecomputeAsync"/>). The insertion order is not kept (DuckDB then writes the rows on every thread);
    /// nothing depends on it: a step's first of a duplicated id is the first received, see <see cref="RemoveDuplicatesAsync"/>.
    /// </summary>
    private static async Task InsertFromFileAsync(DuckDBConnection c, string file, long step, CancellationToken ct) =>
        await Warehouse.ExecuteAsync(c, $"""
            SET preserve_insertion_order = false;
            INSERT INTO events
            SELECT id, type, CAST("time" AS TIMESTAMP), CAST(CAST("time" AS TIMESTAMP) AS DATE), make_timestamp(_t), "user", "session", title,
                   coalesce(device, 'unknown'), coalesce(country, 'unknown'), coalesce("plan", 'free'), "position", duration, bitrate, ms, amount,
                   currency, status, code, "query", "path", channel, buffer, starved, throughput, cmcd, "plan", {step}, hash(id)
            FROM read_ndjson('{file.Replace("'", "''", StringComparison.Ordinal)}', format = 'newline_delimited', columns = {LoadColumns});
            RESET preserve_insertion_order;
            """, ct);

    private const string LoadColumns = """
        {'_t': 'BIGINT', 'id': 'VARCHAR', 'type': 'VARCHAR', 'time': 'VARCHAR', 'user': 'VARCHAR', 'session': 'VARCHAR',
         'title': 'VARCHAR', 'device': 'VARCHAR', 'country': 'VARCHAR', 'plan': 'VARCHAR', 'position': 'DOUBLE', 'duration': 'DOUBLE',
         'bitrate': 'INTEGER', 'ms': 'DOUBLE', 'amount': 'BIGINT', 'currency': 'VARCHAR', 'status': 'VARCHAR', 'code': 'VARCHAR',
         'query': 'VARCHAR', 'path': 'VARCHAR', 'channel': 'VARCHAR', 'buffer': 'DOUBLE', 'starved': 'BOOLEAN', 'throughput': 'DOUBLE',
         'cmcd': 'VARCHAR'}
        """;

    private static async Task<long> CountAsync(DuckDBConnection c, string sql, CancellationToken ct) =>
        Convert.ToInt64((await Warehouse.QueryAsync(c, sql, new Dictionary<string, object?>(), ct))[0][0], CultureInfo.InvariantCulture);

    /// <summary>The step's rows (deduplicated, in <c>events</c>) given their subscribers' plans, then what they touch recomputed.</summary>
    private static async Task PlanAndRecomputeAsync(DuckDBConnection c, long step, PhaseTimer phases, CancellationToken ct)
    {
        await Warehouse.ExecuteAsync(c, PlanStep(step), ct);
        phases.Mark("plan");
        await Warehouse.ExecuteAsync(c, $"""
            DELETE FROM touched_sessions; DELETE FROM touched_users; DELETE FROM touched_days;
            INSERT INTO touched_sessions SELECT DISTINCT day, session_id FROM stage WHERE session_id IS NOT NULL AND type IN ({PlayerTypes});
            INSERT INTO touched_users SELECT DISTINCT day, user_id FROM stage;
            INSERT INTO touched_days SELECT DISTINCT day FROM stage;
            """, ct);
        await ReplanAsync(c, step, ct);
        phases.Mark("replan");
        await RecomputeTouchedAsync(c, phases, incremental: true, ct);
    }

    /// <summary>The legacy step: raw table rows past <c>raw_seq</c> (events that landed before the spool existed).</summary>
    private async Task<int> RunRawOnceAsync(CancellationToken ct)
    {
        var watermark = await WatermarkAsync(ct);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AnalyticsDb>();
        var pending = db.RawEvents.AsNoTracking().Where(r => r.Seq > watermark);
        if (!db.Database.IsSqlite())
        {
            // PostgreSQL hands out identities before commit: a lower number may commit after a higher one was read.
            // Taking only rows a few seconds old keeps the watermark from passing one still in flight.
            var settled = scope.ServiceProvider.GetRequiredService<TimeProvider>().GetUtcNow().AddSeconds(-5);
            pending = pending.Where(r => r.ReceivedAt < settled);
        }

        var batch = await pending.OrderBy(r => r.Seq).Take(BatchRows).Select(r => new { r.Seq, r.Json, r.ReceivedAt }).ToListAsync(ct);
        if (batch.Count == 0)
        {
            return 0;
        }

        // The same load as the spool's: each row's event (serialised again, in today's shape) with its receive time.
        var file = LoadFile;
        await using (var output = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            foreach (var r in batch)
            {
                var json = JsonSerializer.SerializeToUtf8Bytes(Read(r.Json), AnalyticsJson.Default.AnalyticsEvent);
                var micros = (r.ReceivedAt.UtcTicks - DateTime.UnixEpoch.Ticks) / 10;
                await output.WriteAsync(System.Text.Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"_t\":{micros},")), ct);
                await output.WriteAsync(json.AsMemory(1), ct);
                output.WriteByte((byte)'\n');
            }
        }

        var last = batch[^1].Seq;
        try
        {
            await warehouse.UseAsync(async c =>
            {
                await TempTablesAsync(c, ct);
                await InTransactionAsync(c, async () =>
                {
                    var (loadStep, _, duplicates) = await LoadStepAsync(c, file, PhaseTimer.Off, ct);
                    await PlanAndRecomputeAsync(c, loadStep, PhaseTimer.Off, ct);
                    await Warehouse.ExecuteAsync(c, "INSERT OR REPLACE INTO etl_state VALUES ('raw_seq', $w)", ct, ("w", last));
                    if (duplicates > 0)
                    {
                        await Warehouse.ExecuteAsync(c, "INSERT INTO etl_state VALUES ('duplicates', $v) ON CONFLICT (name) DO UPDATE SET value = value + EXCLUDED.value", ct, ("v", duplicates));
                    }
                }, ct);
                return 0;
            }, ct);
        }
        finally
        {
            File.Delete(file);
        }

        return batch.Count;
    }

    /// <summary>
    /// Recomputes the given days whole from the warehouse's events (an operator's re-run): every session, user day and
    /// roll-up of the day. Idempotent: the same events give the same tables.
    /// </summary>
    public async Task RebuildDaysAsync(IReadOnlyList<string> days, CancellationToken ct)
    {
        await step.WaitAsync(ct);
        try
        {
            foreach (var day in days)
            {
                await warehouse.UseAsync(async c =>
                {
                    await TempTablesAsync(c, ct);
                    await InTransactionAsync(c, async () =>
                    {
                        await Warehouse.ExecuteAsync(c, $"""
                            DELETE FROM touched_sessions; DELETE FROM touched_users; DELETE FROM touched_days;
                            INSERT INTO touched_days VALUES (CAST($d AS DATE));
                            INSERT INTO touched_sessions SELECT DISTINCT day, session_id FROM sessions WHERE day = CAST($d AS DATE)
                              UNION SELECT DISTINCT day, session_id FROM events WHERE day = CAST($d AS DATE) AND session_id IS NOT NULL AND type IN ({PlayerTypes});
                            INSERT INTO touched_users SELECT DISTINCT day, user_id FROM user_days WHERE day = CAST($d AS DATE)
                              UNION SELECT DISTINCT day, user_id FROM events WHERE day = CAST($d AS DATE);
                            """, ct, ("d", day));
                        await RecomputeTouchedAsync(c, PhaseTimer.Off, incremental: false, ct);
                    }, ct);
                    return 0;
                }, ct);
            }
        }
        finally
        {
            step.Release();
        }
    }

    /// <summary>The pipeline's counts for <c>/api/analytics/status</c> (spool and legacy raw table together).</summary>
    public async Task<SpoolStatus> StatusAsync(CancellationToken ct)
    {
        var state = await StateAsync(ct);
        long pending = 0;
        foreach (var dir in spool.Directories())
        {
            var name = Path.GetFileName(dir);
            pending += Math.Max(0, spool.EventsIn(dir) - state.GetValueOrDefault("spool_ev:" + name));
        }

        var loaded = state.GetValueOrDefault("spool_retired") + state.Where(kv => kv.Key.StartsWith("spool_ev:", StringComparison.Ordinal)).Sum(kv => kv.Value);
        var events = await warehouse.UseAsync(c => CountAsync(c, "SELECT count(*) FROM events", ct), ct);
        return new SpoolStatus(loaded, pending, state.GetValueOrDefault("raw_seq"), state.GetValueOrDefault("duplicates"), events);
    }

    private Task<Dictionary<string, long>> StateAsync(CancellationToken ct) => warehouse.UseAsync(async c =>
        (await Warehouse.QueryAsync(c, "SELECT name, value FROM etl_state", new Dictionary<string, object?>(), ct))
            .ToDictionary(r => (string)r[0]!, r => r[1] is null ? 0L : Convert.ToInt64(r[1], CultureInfo.InvariantCulture), StringComparer.Ordinal), ct);

    /// <summary>
    /// A person's events in the warehouse (for the export), after everything spooled so far is loaded. Device, country
    /// and plan come out as the warehouse keeps them (<c>unknown</c> when the event did not say).
    /// </summary>
    public async Task<List<AnalyticsEvent>> EventsOfAsync(string userId, int max, CancellationToken ct)
    {
        await step.WaitAsync(ct);
        try
        {
            await CatchUpCoreAsync(ct);
        }
        finally
        {
            step.Release();
        }

        var rows = await warehouse.QueryAsync($"""
            SELECT event_id, type, ts, user_id, session_id, title_id, device, country, given_plan, position, duration, bitrate, ms, amount,
                   currency, status, code, query, path, channel, buffer_ms, starved, throughput, cmcd
            FROM events WHERE user_id = $u ORDER BY ts, event_id LIMIT {max}
            """, new Dictionary<string, object?> { ["u"] = userId }, ct);
        return [.. rows.Select(r => new AnalyticsEvent
        {
            Id = (string)r[0]!, Type = (string)r[1]!, Time = new DateTimeOffset(DateTime.SpecifyKind((DateTime)r[2]!, DateTimeKind.Utc)), User = (string)r[3]!,
            Session = r[4] as string, Title = r[5] is string t && Guid.TryParse(t, out var g) ? g : null, Device = r[6] as string, Country = r[7] as string,
            Plan = r[8] as string, Position = r[9] as double?, Duration = r[10] as double?, Bitrate = r[11] as int?, Ms = r[12] as double?, Amount = r[13] as long?,
            Currency = r[14] as string, Status = r[15] as string, Code = r[16] as string, Query = r[17] as string, Path = r[18] as string, Channel = r[19] as string,
            BufferMs = r[20] as double?, Starved = r[21] as bool?, Throughput = r[22] as double?, Cmcd = r[23] as string,
        })];
    }

    /// <summary>
    /// Replaces a user's id by a pseudonym in the warehouse (a deleted account): the aggregates stay the same, the link to
    /// the person goes. Returns how many warehouse events it changed.
    /// </summary>
    public async Task<long> PseudonymiseAsync(string userId, string pseudonym, CancellationToken ct)
    {
        await step.WaitAsync(ct);
        try
        {
            // Everything spooled so far first (its segments are then deleted), so no event of the person waits in the spool.
            await CatchUpCoreAsync(ct);
            return await PseudonymiseWarehouseAsync(userId, pseudonym, ct);
        }
        finally
        {
            step.Release();
        }
    }

    private Task<long> PseudonymiseWarehouseAsync(string userId, string pseudonym, CancellationToken ct) => warehouse.UseAsync(async c =>
    {
        var p = new Dictionary<string, object?> { ["u"] = userId };
        var changed = Convert.ToInt64((await Warehouse.QueryAsync(c, "SELECT count(*) FROM events WHERE user_id = $u", p, ct))[0][0], CultureInfo.InvariantCulture);
        await InTransactionAsync(c, async () =>
        {
            foreach (var table in new[] { "events", "sessions", "user_days" })
            {
                await Warehouse.ExecuteAsync(c, $"UPDATE {table} SET user_id = $p WHERE user_id = $u", ct, ("p", pseudonym), ("u", userId));
            }
        }, ct);
        return changed;
    }, ct);

    public Task<long> WatermarkAsync(CancellationToken ct) => warehouse.UseAsync(async c =>
    {
        var rows = await Warehouse.QueryAsync(c, "SELECT value FROM etl_state WHERE name = 'raw_seq'", new Dictionary<string, object?>(), ct);
        return rows.Count == 0 ? 0L : Convert.ToInt64(rows[0][0], CultureInfo.InvariantCulture);
    }, ct);

    private static AnalyticsEvent Read(string json) => JsonSerializer.Deserialize(json, AnalyticsJson.Default.AnalyticsEvent)!;

    /// <summary>How long a title's catalogue entry is reused before it is asked again (a rename reaches the warehouse within it).</summary>
    private static readonly TimeSpan TitleCacheLife = TimeSpan.FromSeconds(60);

    private readonly Dictionary<Guid, ((string Id, string Name, string Genre, double? Duration) Title, long At)> titleCache = [];

    /// <summary>The titles' names, kinds and durations from the catalogue (asked at most once a minute per title).</summary>
    private async Task<List<(string Id, string Name, string Genre, double? Duration)>> TitlesAsync(IServiceProvider services, IEnumerable<Guid> ids, CancellationToken ct)
    {
        var catalog = services.GetRequiredService<ICatalog>();
        var titles = new List<(string Id, string Name, string Genre, double? Duration)>();
        var now = Environment.TickCount64;
        foreach (var id in ids.Distinct())
        {
            if (titleCache.TryGetValue(id, out var kept) && now - kept.At < TitleCacheLife.TotalMilliseconds)
            {
                titles.Add(kept.Title);
                continue;
            }

            var t = await catalog.FindAsync(id, ct);
            var title = t is null
                ? (id.ToString(), id.ToString()[..8], "unknown", null)
                : (id.ToString(), t.Name, t.Kind.ToString().ToLowerInvariant(), t.Duration?.TotalSeconds);
            titleCache[id] = (title, now);
            titles.Add(title);
        }

        return titles;
    }

    /// <summary>The titles into the warehouse's <c>titles</c> table, those that are new or changed only.</summary>
    private static async Task UpsertTitlesAsync(DuckDBConnection c, List<(string Id, string Name, string Genre, double? Duration)> titles, CancellationToken ct)
    {
        if (titles.Count == 0)
        {
            return;
        }

        var known = new HashSet<(string, string, string, double?)>();
        await using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT title_id, name, genre, duration_s FROM titles WHERE list_contains($ids, title_id)";
            cmd.Parameters.Add(new DuckDBParameter("ids", titles.Select(t => t.Id).ToList()));
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                known.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetDouble(3)));
            }
        }

        foreach (var t in titles.Where(t => !known.Contains(t)))
        {
            await Warehouse.ExecuteAsync(c, "INSERT OR REPLACE INTO titles VALUES ($id, $name, $genre, $duration)", ct,
                ("id", t.Id), ("name", t.Name), ("genre", t.Genre), ("duration", t.Duration));
        }
    }

    /// <summary>The connection's temporary tables of a step: what it touched.</summary>
    private static Task TempTablesAsync(DuckDBConnection c, CancellationToken ct) => Warehouse.ExecuteAsync(c, """
        CREATE TEMP TABLE IF NOT EXISTS touched_sessions (day DATE, session_id VARCHAR);
        CREATE TEMP TABLE IF NOT EXISTS touched_users (day DATE, user_id VARCHAR);
        CREATE TEMP TABLE IF NOT EXISTS touched_days (day DATE);
        """, ct);

    private static async Task InTransactionAsync(DuckDBConnection c, Func<Task> work, CancellationToken ct)
    {
        await Warehouse.ExecuteAsync(c, "BEGIN TRANSACTION", ct);
        try
        {
            await work();
            await Warehouse.ExecuteAsync(c, "COMMIT", ct);
        }
        catch
        {
            await Warehouse.ExecuteAsync(c, "ROLLBACK", CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// The step's events of users with a subscription event (in the warehouse or the step) get the plan as of each event
    /// (the last subscription change before it, when active) unless the event carried one. The others keep what the load
    /// gave them (their own plan, else <c>free</c>), which is what the join would give.
    /// </summary>
    private static string PlanStep(long step) => $"""
        CREATE OR REPLACE TEMP TABLE stage_subs AS
        SELECT user_id, ts, plan, status FROM events WHERE type = 'subscription' AND user_id IN (SELECT user_id FROM stage);
        UPDATE events SET plan = p.plan
        FROM (SELECT s.event_id, coalesce(s.plan, CASE WHEN sub.status IN ('active', 'pastdue', 'trialing') THEN sub.plan END, 'free') AS plan
              FROM (SELECT * FROM stage WHERE user_id IN (SELECT user_id FROM stage_subs)) s
              ASOF LEFT JOIN stage_subs sub ON s.user_id = sub.user_id AND s.ts >= sub.ts) p
        WHERE events.step = {step} AND events.event_id = p.event_id AND events.plan IS DISTINCT FROM p.plan;
        """;

    /// <summary>
    /// A subscription event that arrives after the user's later events (late, or just in a later step) changes their plan:
    /// the user's events from its time on get their plan again (unless the event carried one), and what they belong to is
    /// recomputed with the rest.
    /// </summary>
    private static async Task ReplanAsync(DuckDBConnection c, long step, CancellationToken ct) => await Warehouse.ExecuteAsync(c, $"""
        CREATE OR REPLACE TEMP TABLE replanned AS
        SELECT e.event_id, e.day, e.user_id, e.session_id, e.type,
               coalesce(e.given_plan, CASE WHEN sub.status IN ('active', 'pastdue', 'trialing') THEN sub.plan END, 'free') AS plan
        FROM (SELECT ev.* FROM events ev JOIN (SELECT user_id, min(ts) AS since FROM stage WHERE type = 'subscription' GROUP BY user_id) u
                ON ev.user_id = u.user_id AND ev.ts >= u.since
              WHERE ev.type <> 'subscription' AND ev.step IS DISTINCT FROM {step}) e
        ASOF LEFT JOIN (SELECT user_id, ts, plan, status FROM events WHERE type = 'subscription') sub ON e.user_id = sub.user_id AND e.ts >= sub.ts;
        UPDATE events SET plan = r.plan FROM replanned r WHERE events.event_id = r.event_id AND events.plan IS DISTINCT FROM r.plan;
        INSERT INTO touched_sessions SELECT DISTINCT day, session_id FROM replanned WHERE session_id IS NOT NULL AND type IN ({PlayerTypes})
          EXCEPT SELECT day, session_id FROM touched_sessions;
        INSERT INTO touched_users SELECT DISTINCT day, user_id FROM replanned EXCEPT SELECT day, user_id FROM touched_users;
        INSERT INTO touched_days SELECT DISTINCT day FROM replanned EXCEPT SELECT day FROM touched_days;
        """, ct);

    /// <summary>Recomputes the sessions and user days listed in the touched tables from the events, then the roll-ups of the touched days.</summary>
    private static async Task RecomputeTouchedAsync(DuckDBConnection c, PhaseTimer phases, bool incremental, CancellationToken ct)
    {
        // Sessions (session-day grain): what the player reported, from play request to end.
        await Warehouse.ExecuteAsync(c, $"""
            DELETE FROM sessions USING touched_sessions t WHERE sessions.day = t.day AND sessions.session_id = t.session_id;
            INSERT INTO sessions
            WITH s AS (
              SELECT e.session_id, e.day, arg_min(user_id, ts) AS user_id, arg_min(title_id, ts) FILTER (WHERE title_id IS NOT NULL) AS title_id,
                     arg_min(device, ts) AS device, arg_min(country, ts) AS country, arg_min(plan, ts) AS plan,
                     min(ts) AS started_at, max(ts) AS ended_at,
                     bool_or(type = 'play_request') AS requested, bool_or(type = 'first_frame') AS started,
                     max(position) FILTER (WHERE type IN ('heartbeat', 'end')) AS max_position, max(duration) AS duration,
                     min(ts) FILTER (WHERE type = 'first_frame') AS ff, max(ts) FILTER (WHERE type IN ('heartbeat', 'end')) AS last_play,
                     min(ms) FILTER (WHERE type = 'first_frame') AS tts_ms,
                     count(*) FILTER (WHERE type = 'rebuffer_start') AS rebuffers,
                     coalesce(sum(ms) FILTER (WHERE type = 'rebuffer_end'), 0) AS rebuffer_ms,
                     count(*) FILTER (WHERE type = 'error') AS errors,
                     avg(bitrate) FILTER (WHERE type = 'heartbeat') AS avg_bitrate
              FROM events e SEMI JOIN touched_sessions t ON e.day = t.day AND e.session_id = t.session_id
              WHERE e.type IN ({PlayerTypes})
              GROUP BY e.session_id, e.day)
            SELECT s.session_id, s.day, s.user_id, s.title_id, t.name, coalesce(t.genre, 'unknown'), s.device, s.country, s.plan,
                   s.started_at, s.ended_at, s.requested, s.started,
                   coalesce(s.max_position >= 0.9 * coalesce(s.duration, t.duration_s), false),
                   s.max_position, coalesce(s.duration, t.duration_s),
                   CASE WHEN s.ff IS NULL OR s.last_play IS NULL THEN 0.0
                        ELSE greatest(0.0, epoch(s.last_play) - epoch(s.ff) - s.rebuffer_ms / 1000.0) END,
                   s.tts_ms, s.rebuffers, s.rebuffer_ms, s.errors, s.avg_bitrate
            FROM s LEFT JOIN titles t ON t.title_id = s.title_id;
            """, ct);
        phases.Mark("sessions");

        // Active users of the day (any event of their own, not the server's bookkeeping): device, country and plan of the
        // day's first such event, and its time (first_ts).
        if (incremental)
        {
            await MergeUserDaysAsync(c, ct);
        }
        else
        {
            await Warehouse.ExecuteAsync(c, $"""
                DELETE FROM user_days USING touched_users t WHERE user_days.day = t.day AND user_days.user_id = t.user_id;
                {UserDaysFrom("touched_users")}
                """, ct);
        }

        phases.Mark("user_days");

        // Roll-ups of the touched days by each dimension (and 'all'): what dashboards read. One pass over the days'
        // sessions (grouping sets), one row per day x dimension x value.
        var dims = Dimensions.ToList();
        var dimName = "CASE " + string.Concat(dims.Select((d, i) => $"WHEN grouping(d{i}) = 0 THEN '{d.Key}' ")) + "ELSE 'all' END";
        var dimValue = "CASE " + string.Concat(dims.Select((d, i) => $"WHEN grouping(d{i}) = 0 THEN d{i} ")) + "ELSE 'all' END";
        await Warehouse.ExecuteAsync(c, $"""
            DELETE FROM daily_rollup WHERE day IN (SELECT day FROM touched_days);
            INSERT INTO daily_rollup
            SELECT day, {dimName}, {dimValue}, count(*), count(*) FILTER (WHERE requested),
                   count(*) FILTER (WHERE started), count(*) FILTER (WHERE completed), sum(watch_s), sum(rebuffers), sum(rebuffer_ms),
                   sum(tts_ms), count(tts_ms), sum(errors), count(DISTINCT user_id)
            FROM (SELECT *, {string.Join(", ", dims.Select((d, i) => $"coalesce(CAST({d.Value} AS VARCHAR), 'unknown') AS d{i}"))} FROM sessions WHERE day IN (SELECT day FROM touched_days))
            GROUP BY GROUPING SETS ({string.Join(", ", dims.Select((_, i) => $"(day, d{i})"))}, (day));
            """, ct);
        phases.Mark("rollup");
    }

    /// <summary>The user days of the given (day, user_id) pairs computed from all their events in the warehouse.</summary>
    private static string UserDaysFrom(string pairs) => $"""
        INSERT INTO user_days
        SELECT e.day, e.user_id, arg_min(device, ts), arg_min(country, ts), arg_min(plan, ts), min(ts)
        FROM events e SEMI JOIN {pairs} t ON e.day = t.day AND e.user_id = t.user_id
        WHERE e.type NOT IN ({ServerBookkeeping})
        GROUP BY e.day, e.user_id;
        """;

    /// <summary>
    /// Keeps <c>user_days</c> incrementally from the step's new events instead of re-reading every event of the touched
    /// users' days: per (day, user) the first new event of their own (its plan as the ASOF join gave it in
    /// <see cref="PlanStep"/>); it replaces the kept row only when it is earlier than the kept row's first event, and a
    /// new (day, user) is added. The same result as a recompute from all events (the day's first event wins), except that
    /// the pairs whose events were given another plan (a subscription event, <see cref="ReplanAsync"/>) and the rows kept
    /// before first_ts existed are recomputed from all their events, as before.
    /// </summary>
    private static async Task MergeUserDaysAsync(DuckDBConnection c, CancellationToken ct)
    {
        await Warehouse.ExecuteAsync(c, $$"""
            CREATE OR REPLACE TEMP TABLE ud_new AS
            WITH f AS (
              SELECT day, user_id, min(ts) AS first_ts,
                     arg_min({'device': coalesce(device, 'unknown'), 'country': coalesce(country, 'unknown'), 'plan': plan}, ts) AS e
              FROM stage WHERE type NOT IN ({{ServerBookkeeping}}) GROUP BY day, user_id)
            SELECT f.day, f.user_id, struct_extract(f.e, 'device') AS device, struct_extract(f.e, 'country') AS country,
                   coalesce(struct_extract(f.e, 'plan'), CASE WHEN sub.status IN ('active', 'pastdue', 'trialing') THEN sub.plan END, 'free') AS plan, f.first_ts
            FROM f ASOF LEFT JOIN stage_subs sub ON f.user_id = sub.user_id AND f.first_ts >= sub.ts;
            CREATE OR REPLACE TEMP TABLE ud_full AS
            SELECT DISTINCT day, user_id FROM replanned
            UNION SELECT u.day, u.user_id FROM user_days u SEMI JOIN ud_new n ON u.day = n.day AND u.user_id = n.user_id WHERE u.first_ts IS NULL;
            DELETE FROM ud_new USING ud_full f WHERE ud_new.day = f.day AND ud_new.user_id = f.user_id;
            DELETE FROM user_days USING ud_new n WHERE user_days.day = n.day AND user_days.user_id = n.user_id AND n.first_ts < user_days.first_ts;
            INSERT INTO user_days
            SELECT n.day, n.user_id, n.device, n.country, n.plan, n.first_ts FROM ud_new n
            WHERE NOT EXISTS (SELECT 1 FROM user_days u WHERE u.day = n.day AND u.user_id = n.user_id);
            """, ct);
        if (await CountAsync(c, "SELECT count(*) FROM ud_full", ct) > 0)
        {
            await Warehouse.ExecuteAsync(c, $"""
                DELETE FROM user_days USING ud_full t WHERE user_days.day = t.day AND user_days.user_id = t.user_id;
                {UserDaysFrom("ud_full")}
                """, ct);
        }
    }
}

/// <summary>Runs the pipeline when events were stored (and every few seconds), until caught up.</summary>
internal sealed class PipelineWorker(Pipeline pipeline, Warehouse warehouse, EtlSignal signal, IOptions<AnalyticsOptions> options, ILogger<PipelineWorker> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await pipeline.RunOnceAsync(stoppingToken) > 0)
                {
                }

                // Caught up: a checkpoint now costs no ingest time, and keeps the WAL a restart would replay small.
                if (warehouse.WalBytes > options.Value.IdleCheckpointMegabytes * 1024L * 1024)
                {
                    await warehouse.CheckpointAsync(stoppingToken);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                PipelineLog.Failed(log, ex);
            }

            try
            {
                await signal.WaitAsync(TimeSpan.FromSeconds(5), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

/// <summary>The spool side of the status: events loaded, events spooled and not loaded yet, the raw table's watermark, duplicates, warehouse events.</summary>
internal sealed record SpoolStatus(long Loaded, long Pending, long RawWatermark, long Duplicates, long WarehouseEvents);

/// <summary>Wall time of a pipeline step's phases, for the debug log (what the benchmarks profile).</summary>
internal sealed class PhaseTimer(bool enabled)
{
    public static readonly PhaseTimer Off = new(false);
    private readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
    private readonly System.Text.StringBuilder text = new();
    private TimeSpan last;

    public bool Enabled => enabled;

    public void Mark(string phase)
    {
        if (!enabled)
        {
            return;
        }

        var now = clock.Elapsed;
        text.Append(CultureInfo.InvariantCulture, $"{phase} {(now - last).TotalMilliseconds:F0} ms, ");
        last = now;
    }

    public override string ToString() => text.ToString() + string.Create(CultureInfo.InvariantCulture, $"total {clock.Elapsed.TotalMilliseconds:F0} ms");
}

internal static partial class PipelineLog
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "Analytics pipeline step: {Events} events; {Phases}")]
    public static partial void Phases(ILogger logger, int events, string phases);

    [LoggerMessage(Level = LogLevel.Error, Message = "Analytics pipeline step failed; it is retried from its watermark.")]
    public static partial void Failed(ILogger logger, Exception exception);
}
