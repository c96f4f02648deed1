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
    private const int BatchRows = 200_000;

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

    /// <summary>One step: the raw rows past the watermark (at most a batch). Returns how many raw rows it took (0: caught up).</summary>
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

        var batch = await pending.OrderBy(r => r.Seq).Take(BatchRows).Select(r => new { r.Seq, r.Day }).ToListAsync(ct);
        if (batch.Count == 0)
        {
            return 0;
        }

        var days = batch.Select(b => b.Day).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        await RebuildAsync(scope.ServiceProvider, days, batch[^1].Seq, ct);
        return batch.Count;
    }

    /// <summary>Rebuilds the given days from the raw table (also for an operator's re-run); leaves the watermark where it is.</summary>
    public async Task RebuildDaysAsync(IReadOnlyList<string> days, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        await RebuildAsync(scope.ServiceProvider, days, null, ct);
    }

    public Task<long> WatermarkAsync(CancellationToken ct) => warehouse.UseAsync(async c =>
    {
        var rows = await Warehouse.QueryAsync(c, "SELECT value FROM etl_state WHERE name = 'raw_seq'", new Dictionary<string, object?>(), ct);
        return rows.Count == 0 ? 0L : Convert.ToInt64(rows[0][0], CultureInfo.InvariantCulture);
    }, ct);

    private async Task RebuildAsync(IServiceProvider services, IReadOnlyList<string> days, long? watermark, CancellationToken ct)
    {
        var db = services.GetRequiredService<AnalyticsDb>();
        var catalog = services.GetRequiredService<ICatalog>();
        var loaded = new List<(string Day, List<AnalyticsEvent> Events)>();
        var titleIds = new HashSet<Guid>();
        foreach (var day in days)
        {
            var json = await db.RawEvents.AsNoTracking().Where(r => r.Day == day).OrderBy(r => r.Seq).Select(r => new { r.Json, r.ReceivedAt }).ToListAsync(ct);
            var events = json.Select(j => JsonSerializer.Deserialize<AnalyticsEvent>(j.Json, AnalyticsEvent.Json)! with { }).ToList();
            loaded.Add((day, events));
            titleIds.UnionWith(events.Where(e => e.Title is not null).Select(e => e.Title!.Value));
        }

        var titles = new List<(string Id, string Name, string Genre, double? Duration)>();
        foreach (var id in titleIds)
        {
            var t = await catalog.FindAsync(id, ct);
            titles.Add(t is null
                ? (id.ToString(), id.ToString()[..8], "unknown", null)
                : (id.ToString(), t.Name, t.Kind.ToString().ToLowerInvariant(), t.Duration?.TotalSeconds));
        }

        await warehouse.UseAsync(async c =>
        {
            await Warehouse.ExecuteAsync(c, "CREATE TABLE IF NOT EXISTS stage AS SELECT * FROM events LIMIT 0; DELETE FROM stage;", ct);
            using (var appender = c.CreateAppender("stage"))
            {
                foreach (var (_, events) in loaded)
                {
                    foreach (var e in events)
                    {
                        var row = appender.CreateRow();
                        row.AppendValue(e.Id).AppendValue(e.Type).AppendValue((DateTime?)e.Time.UtcDateTime).AppendValue((DateTime?)e.Time.UtcDateTime.Date)
                            .AppendValue((DateTime?)null).AppendValue(e.User).AppendValue(e.Session).AppendValue(e.Title?.ToString())
                            .AppendValue(e.Device).AppendValue(e.Country).AppendValue(e.Plan).AppendValue(e.Position).AppendValue(e.Duration)
                            .AppendValue(e.Bitrate).AppendValue(e.Ms).AppendValue(e.Amount).AppendValue(e.Currency).AppendValue(e.Status)
                            .AppendValue(e.Code).AppendValue(e.Query).AppendValue(e.Path).AppendValue(e.Channel).EndRow();
                    }
                }
            }

            await Warehouse.ExecuteAsync(c, "BEGIN TRANSACTION", ct);
            try
            {
                foreach (var t in titles)
                {
                    await Warehouse.ExecuteAsync(c, "INSERT OR REPLACE INTO titles VALUES ($id, $name, $genre, $duration)", ct,
                        ("id", t.Id), ("name", t.Name), ("genre", t.Genre), ("duration", t.Duration));
                }

                foreach (var (day, _) in loaded)
                {
                    await RebuildDayAsync(c, day, ct);
                }

                if (watermark is { } w)
                {
                    await Warehouse.ExecuteAsync(c, "INSERT OR REPLACE INTO etl_state VALUES ('raw_seq', $w)", ct, ("w", w));
                }

                await Warehouse.ExecuteAsync(c, "DELETE FROM stage; COMMIT", ct);
            }
            catch
            {
                await Warehouse.ExecuteAsync(c, "ROLLBACK", CancellationToken.None);
                throw;
            }

            return 0;
        }, ct);
    }

    private static async Task RebuildDayAsync(DuckDBConnection c, string day, CancellationToken ct)
    {
        var d = ("d", (object?)day);
        // Cleaned events of the day, with the viewer's plan as of each event (the last subscription change before it).
        await Warehouse.ExecuteAsync(c, """
            DELETE FROM events WHERE day = CAST($d AS DATE);
            INSERT INTO events
            SELECT s.event_id, s.type, s.ts, s.day, s.received_at, s.user_id, s.session_id, s.title_id, coalesce(s.device, 'unknown'),
                   coalesce(s.country, 'unknown'),
                   coalesce(s.plan, CASE WHEN sub.status IN ('active', 'pastdue', 'trialing') THEN sub.plan END, 'free'),
                   s.position, s.duration, s.bitrate, s.ms, s.amount, s.currency, s.status, s.code, s.query, s.path, s.channel
            FROM (SELECT * FROM stage WHERE day = CAST($d AS DATE)) s
            ASOF LEFT JOIN (SELECT user_id, ts, plan, status FROM events WHERE type = 'subscription'
                            UNION ALL SELECT user_id, ts, plan, status FROM stage WHERE type = 'subscription' AND day = CAST($d AS DATE)) sub
              ON s.user_id = sub.user_id AND s.ts >= sub.ts;
            """, ct, d);

        // Sessions (session-day grain): what the player reported, from play request to end.
        await Warehouse.ExecuteAsync(c, $"""
            DELETE FROM sessions WHERE day = CAST($d AS DATE);
            INSERT INTO sessions
            WITH s AS (
              SELECT session_id, day, arg_min(user_id, ts) AS user_id, arg_min(title_id, ts) FILTER (WHERE title_id IS NOT NULL) AS title_id,
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
              FROM events WHERE day = CAST($d AS DATE) AND session_id IS NOT NULL AND type IN ({PlayerTypes})
              GROUP BY session_id, day)
            SELECT s.session_id, s.day, s.user_id, s.title_id, t.name, coalesce(t.genre, 'unknown'), s.device, s.country, s.plan,
                   s.started_at, s.ended_at, s.requested, s.started,
                   coalesce(s.max_position >= 0.9 * coalesce(s.duration, t.duration_s), false),
                   s.max_position, coalesce(s.duration, t.duration_s),
                   CASE WHEN s.ff IS NULL OR s.last_play IS NULL THEN 0.0
                        ELSE greatest(0.0, epoch(s.last_play) - epoch(s.ff) - s.rebuffer_ms / 1000.0) END,
                   s.tts_ms, s.rebuffers, s.rebuffer_ms, s.errors, s.avg_bitrate
            FROM s LEFT JOIN titles t ON t.title_id = s.title_id;
            """, ct, d);

        // Active users of the day (any event of their own, not the server's bookkeeping).
        await Warehouse.ExecuteAsync(c, """
            DELETE FROM user_days WHERE day = CAST($d AS DATE);
            INSERT INTO user_days
            SELECT day, user_id, arg_min(device, ts), arg_min(country, ts), arg_min(plan, ts)
            FROM events WHERE day = CAST($d AS DATE) AND type NOT IN ('subscription', 'payment', 'asset_ready')
            GROUP BY day, user_id;
            """, ct, d);

        // Roll-ups of the day by each dimension (and 'all'): what dashboards read.
        await Warehouse.ExecuteAsync(c, "DELETE FROM daily_rollup WHERE day = CAST($d AS DATE)", ct, d);
        foreach (var (dim, expr) in Dimensions.Append(new KeyValuePair<string, string>("all", "'all'")))
        {
            await Warehouse.ExecuteAsync(c, $"""
                INSERT INTO daily_rollup
                SELECT day, '{dim}', coalesce(CAST({expr} AS VARCHAR), 'unknown') AS value, count(*), count(*) FILTER (WHERE requested),
                       count(*) FILTER (WHERE started), count(*) FILTER (WHERE completed), sum(watch_s), sum(rebuffers), sum(rebuffer_ms),
                       sum(tts_ms), count(tts_ms), sum(errors), count(DISTINCT user_id)
                FROM sessions WHERE day = CAST($d AS DATE) GROUP BY day, value;
                """, ct, d);
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
