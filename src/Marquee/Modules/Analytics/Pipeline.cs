using System.Globalization;
using System.Text.Json;
using DuckDB.NET.Data;
using Marquee.Analytics.Data;
using Marquee.Catalog.Contracts;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Analytics;

/// <summary>
/// The ETL from the raw table into the warehouse. Incremental: it takes raw rows past its watermark (<c>etl_state.raw_seq</c>),
/// finds the days they fall in (a late event falls in its own, earlier day) and rebuilds each of those days whole from
/// every raw row of that day: cleaned events, sessions, active users and roll-ups. Idempotent: rebuilding a day from
/// the same raw rows gives the same tables. The day rebuilds and the new watermark commit in one DuckDB transaction,
/// so a crash or restart repeats the step, never half of it.
/// </summary>
internal sealed class Pipeline(IServiceScopeFactory scopes, Warehouse warehouse)
{
    private const int BatchRows = 100_000;

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
    /// One step: the raw rows past the watermark (at most a batch), appended to the warehouse's events; then only what
    /// they touch is recomputed: their sessions, their users' days, and the roll-ups of their days. Returns how many raw
    /// rows it took (0: caught up).
    /// </summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
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

        var events = batch.Select(r => (Read(r.Json), r.ReceivedAt)).ToList();
        var titles = await TitlesAsync(scope.ServiceProvider, events.Select(e => e.Item1), ct);
        var last = batch[^1].Seq;
        await warehouse.UseAsync(async c =>
        {
            await StageAsync(c, events, ct);
            await InTransactionAsync(c, async () =>
            {
                await UpsertTitlesAsync(c, titles, ct);
                await Warehouse.ExecuteAsync(c, AppendStage("TRUE"), ct);
                await Warehouse.ExecuteAsync(c, $"""
                    DELETE FROM touched_sessions; DELETE FROM touched_users; DELETE FROM touched_days;
                    INSERT INTO touched_sessions SELECT DISTINCT day, session_id FROM stage WHERE session_id IS NOT NULL AND type IN ({PlayerTypes});
                    INSERT INTO touched_users SELECT DISTINCT day, user_id FROM stage;
                    INSERT INTO touched_days SELECT DISTINCT day FROM stage;
                    """, ct);
                await ReplanAsync(c, ct);
                await RecomputeTouchedAsync(c, ct);
                await Warehouse.ExecuteAsync(c, "INSERT OR REPLACE INTO etl_state VALUES ('raw_seq', $w)", ct, ("w", last));
            }, ct);
            return 0;
        }, ct);
        return batch.Count;
    }

    /// <summary>
    /// Rebuilds the given days whole from the raw table (an operator's re-run): the raw rows of the day up to the
    /// watermark (later ones are the next step's), then every session, user day and roll-up of the day. Idempotent.
    /// </summary>
    public async Task RebuildDaysAsync(IReadOnlyList<string> days, CancellationToken ct)
    {
        var watermark = await WatermarkAsync(ct);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AnalyticsDb>();
        foreach (var day in days)
        {
            var rows = await db.RawEvents.AsNoTracking().Where(r => r.Day == day && r.Seq <= watermark).OrderBy(r => r.Seq)
                .Select(r => new { r.Json, r.ReceivedAt }).ToListAsync(ct);
            var events = rows.Select(r => (Read(r.Json), r.ReceivedAt)).ToList();
            var titles = await TitlesAsync(scope.ServiceProvider, events.Select(e => e.Item1), ct);
            await warehouse.UseAsync(async c =>
            {
                await StageAsync(c, events, ct);
                await InTransactionAsync(c, async () =>
                {
                    await UpsertTitlesAsync(c, titles, ct);
                    await Warehouse.ExecuteAsync(c, "DELETE FROM events WHERE day = CAST($d AS DATE)", ct, ("d", day));
                    await Warehouse.ExecuteAsync(c, AppendStage("TRUE"), ct);
                    await Warehouse.ExecuteAsync(c, $"""
                        DELETE FROM touched_sessions; DELETE FROM touched_users; DELETE FROM touched_days;
                        INSERT INTO touched_days VALUES (CAST($d AS DATE));
                        INSERT INTO touched_sessions SELECT DISTINCT day, session_id FROM sessions WHERE day = CAST($d AS DATE)
                          UNION SELECT DISTINCT day, session_id FROM events WHERE day = CAST($d AS DATE) AND session_id IS NOT NULL AND type IN ({PlayerTypes});
                        INSERT INTO touched_users SELECT DISTINCT day, user_id FROM user_days WHERE day = CAST($d AS DATE)
                          UNION SELECT DISTINCT day, user_id FROM events WHERE day = CAST($d AS DATE);
                        """, ct, ("d", day));
                    await RecomputeTouchedAsync(c, ct);
                }, ct);
                return 0;
            }, ct);
        }
    }

    /// <summary>
    /// Replaces a user's id by a pseudonym in the warehouse (a deleted account): the aggregates stay the same, the link to
    /// the person goes. Returns how many warehouse events it changed.
    /// </summary>
    public Task<long> PseudonymiseAsync(string userId, string pseudonym, CancellationToken ct) => warehouse.UseAsync(async c =>
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

    private static async Task<List<(string Id, string Name, string Genre, double? Duration)>> TitlesAsync(IServiceProvider services, IEnumerable<AnalyticsEvent> events, CancellationToken ct)
    {
        var catalog = services.GetRequiredService<ICatalog>();
        var titles = new List<(string Id, string Name, string Genre, double? Duration)>();
        foreach (var id in events.Where(e => e.Title is not null).Select(e => e.Title!.Value).Distinct())
        {
            var t = await catalog.FindAsync(id, ct);
            titles.Add(t is null
                ? (id.ToString(), id.ToString()[..8], "unknown", null)
                : (id.ToString(), t.Name, t.Kind.ToString().ToLowerInvariant(), t.Duration?.TotalSeconds));
        }

        return titles;
    }

    private static async Task UpsertTitlesAsync(DuckDBConnection c, List<(string Id, string Name, string Genre, double? Duration)> titles, CancellationToken ct)
    {
        foreach (var t in titles)
        {
            await Warehouse.ExecuteAsync(c, "INSERT OR REPLACE INTO titles VALUES ($id, $name, $genre, $duration)", ct,
                ("id", t.Id), ("name", t.Name), ("genre", t.Genre), ("duration", t.Duration));
        }
    }

    /// <summary>Fills the (temporary) stage table with the events, through DuckDB's appender.</summary>
    private static async Task StageAsync(DuckDBConnection c, List<(AnalyticsEvent Event, DateTimeOffset ReceivedAt)> events, CancellationToken ct)
    {
        await Warehouse.ExecuteAsync(c, """
            CREATE TEMP TABLE IF NOT EXISTS stage AS SELECT * FROM events LIMIT 0; DELETE FROM stage;
            CREATE TEMP TABLE IF NOT EXISTS touched_sessions (day DATE, session_id VARCHAR);
            CREATE TEMP TABLE IF NOT EXISTS touched_users (day DATE, user_id VARCHAR);
            CREATE TEMP TABLE IF NOT EXISTS touched_days (day DATE);
            """, ct);
        using var appender = c.CreateAppender("temp", "main", "stage");
        foreach (var (e, received) in events)
        {
            var row = appender.CreateRow();
            row.AppendValue(e.Id).AppendValue(e.Type).AppendValue((DateTime?)e.Time.UtcDateTime).AppendValue((DateTime?)e.Time.UtcDateTime.Date)
                .AppendValue((DateTime?)received.UtcDateTime).AppendValue(e.User).AppendValue(e.Session).AppendValue(e.Title?.ToString())
                .AppendValue(e.Device).AppendValue(e.Country).AppendValue(e.Plan).AppendValue(e.Position).AppendValue(e.Duration)
                .AppendValue(e.Bitrate).AppendValue(e.Ms).AppendValue(e.Amount).AppendValue(e.Currency).AppendValue(e.Status)
                .AppendValue(e.Code).AppendValue(e.Query).AppendValue(e.Path).AppendValue(e.Channel)
                .AppendValue(e.BufferMs).AppendValue(e.Starved).AppendValue(e.Throughput).AppendValue(e.Cmcd).AppendValue(e.Plan).EndRow();
        }
    }

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

    /// <summary>The stage into the events table, with the viewer's plan as of each event (the last subscription change before it).</summary>
    private static string AppendStage(string where) => $"""
        INSERT INTO events
        SELECT s.event_id, s.type, s.ts, s.day, s.received_at, s.user_id, s.session_id, s.title_id, coalesce(s.device, 'unknown'),
               coalesce(s.country, 'unknown'),
               coalesce(s.plan, CASE WHEN sub.status IN ('active', 'pastdue', 'trialing') THEN sub.plan END, 'free'),
               s.position, s.duration, s.bitrate, s.ms, s.amount, s.currency, s.status, s.code, s.query, s.path, s.channel,
               s.buffer_ms, s.starved, s.throughput, s.cmcd, s.plan
        FROM (SELECT * FROM stage WHERE {where}) s
        ASOF LEFT JOIN (SELECT user_id, ts, plan, status FROM events WHERE type = 'subscription'
                        UNION ALL SELECT user_id, ts, plan, status FROM stage WHERE type = 'subscription') sub
          ON s.user_id = sub.user_id AND s.ts >= sub.ts;
        """;

    /// <summary>
    /// A subscription event that arrives after the user's later events (late, or just in a later step) changes their plan:
    /// the user's events from its time on get their plan again (unless the event carried one), and what they belong to is
    /// recomputed with the rest.
    /// </summary>
    private static async Task ReplanAsync(DuckDBConnection c, CancellationToken ct) => await Warehouse.ExecuteAsync(c, $"""
        CREATE OR REPLACE TEMP TABLE replanned AS
        SELECT e.event_id, e.day, e.user_id, e.session_id, e.type,
               coalesce(e.given_plan, CASE WHEN sub.status IN ('active', 'pastdue', 'trialing') THEN sub.plan END, 'free') AS plan
        FROM (SELECT ev.* FROM events ev JOIN (SELECT user_id, min(ts) AS since FROM stage WHERE type = 'subscription' GROUP BY user_id) u
                ON ev.user_id = u.user_id AND ev.ts >= u.since
              WHERE ev.type <> 'subscription' AND ev.event_id NOT IN (SELECT event_id FROM stage)) e
        ASOF LEFT JOIN (SELECT user_id, ts, plan, status FROM events WHERE type = 'subscription') sub ON e.user_id = sub.user_id AND e.ts >= sub.ts;
        UPDATE events SET plan = r.plan FROM replanned r WHERE events.event_id = r.event_id AND events.plan IS DISTINCT FROM r.plan;
        INSERT INTO touched_sessions SELECT DISTINCT day, session_id FROM replanned WHERE session_id IS NOT NULL AND type IN ({PlayerTypes})
          EXCEPT SELECT day, session_id FROM touched_sessions;
        INSERT INTO touched_users SELECT DISTINCT day, user_id FROM replanned EXCEPT SELECT day, user_id FROM touched_users;
        INSERT INTO touched_days SELECT DISTINCT day FROM replanned EXCEPT SELECT day FROM touched_days;
        """, ct);

    /// <summary>Recomputes the sessions and user days listed in the touched tables from the events, then the roll-ups of the touched days.</summary>
    private static async Task RecomputeTouchedAsync(DuckDBConnection c, CancellationToken ct)
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

        // Active users of the day (any event of their own, not the server's bookkeeping).
        await Warehouse.ExecuteAsync(c, $"""
            DELETE FROM user_days USING touched_users t WHERE user_days.day = t.day AND user_days.user_id = t.user_id;
            INSERT INTO user_days
            SELECT e.day, e.user_id, arg_min(device, ts), arg_min(country, ts), arg_min(plan, ts)
            FROM events e SEMI JOIN touched_users t ON e.day = t.day AND e.user_id = t.user_id
            WHERE e.type NOT IN ({ServerBookkeeping})
            GROUP BY e.day, e.user_id;
            """, ct);

        // Roll-ups of the touched days by each dimension (and 'all'): what dashboards read.
        await Warehouse.ExecuteAsync(c, "DELETE FROM daily_rollup WHERE day IN (SELECT day FROM touched_days)", ct);
        foreach (var (dim, expr) in Dimensions.Append(new KeyValuePair<string, string>("all", "'all'")))
        {
            await Warehouse.ExecuteAsync(c, $"""
                INSERT INTO daily_rollup
                SELECT day, '{dim}', coalesce(CAST({expr} AS VARCHAR), 'unknown') AS value, count(*), count(*) FILTER (WHERE requested),
                       count(*) FILTER (WHERE started), count(*) FILTER (WHERE completed), sum(watch_s), sum(rebuffers), sum(rebuffer_ms),
                       sum(tts_ms), count(tts_ms), sum(errors), count(DISTINCT user_id)
                FROM sessions WHERE day IN (SELECT day FROM touched_days) GROUP BY day, value;
                """, ct);
        }
    }
}

/// <summary>Runs the pipeline when events were stored (and every few seconds), until caught up.</summary>
internal sealed class PipelineWorker(Pipeline pipeline, EtlSignal signal, ILogger<PipelineWorker> log) : BackgroundService
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

internal static partial class PipelineLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "Analytics pipeline step failed; it is retried from its watermark.")]
    public static partial void Failed(ILogger logger, Exception exception);
}
