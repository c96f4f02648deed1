using System.Data.Common;
using System.Text.Json;
using System.Threading.Channels;
using Marquee.Analytics.Data;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;

namespace Marquee.Analytics;

/// <summary>Analytics settings (<c>Marquee:Analytics</c>).</summary>
internal sealed class AnalyticsOptions
{
    public const string Section = "Marquee:Analytics";

    /// <summary>Requests waiting for the raw table writer; beyond it the beacon answers 503 with Retry-After.</summary>
    public int IngestQueue { get; set; } = 256;

    /// <summary>How long the writer waits for a busy SQLite database before it gives the batches back as 503, in seconds.</summary>
    public int BusyTimeoutSeconds { get; set; } = 5;

    /// <summary>The Retry-After of a 503, in seconds.</summary>
    public int RetryAfterSeconds { get; set; } = 2;

    /// <summary>Rates to a reporting currency: <c>{"Currency": "EUR", "Rates": {"USD": 0.92, "GBP": 1.17}}</c> (units of the reporting currency per unit).</summary>
    public ExchangeRateOptions ExchangeRates { get; set; } = new();
}

internal sealed class ExchangeRateOptions
{
    /// <summary>The reporting currency (ISO 4217). Empty: revenue is reported per currency, never summed across currencies.</summary>
    public string Currency { get; set; } = "";

    public Dictionary<string, decimal> Rates { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// The single writer of the raw event table. Requests put their validated events on a bounded channel and wait; the
/// writer takes everything waiting (group commit, up to <see cref="GroupEvents"/> events), appends it in one transaction
/// with one prepared statement (SQLite) or one array insert (PostgreSQL, <c>unnest</c>), duplicates skipped by the unique
/// event id (<c>ON CONFLICT DO NOTHING</c>), and completes each request only after the commit: an acknowledged event is
/// durable. A full channel or a database busy past <see cref="AnalyticsOptions.BusyTimeoutSeconds"/> fails the requests with
/// <see cref="StoreBusyException"/> (the API answers 503 with Retry-After; nothing of those batches is stored).
/// </summary>
internal sealed class RawEventWriter : IAsyncDisposable
{
    private const int GroupEvents = 20_000;

    private readonly Channel<Pending> channel;
    private readonly IServiceScopeFactory scopes;
    private readonly AnalyticsOptions options;
    private readonly ILogger<RawEventWriter> log;
    private readonly Lock startLock = new();
    private Task? loop;

    public RawEventWriter(IServiceScopeFactory scopes, IOptions<AnalyticsOptions> options, ILogger<RawEventWriter> log)
    {
        this.scopes = scopes;
        this.options = options.Value;
        this.log = log;
        channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(1, this.options.IngestQueue))
        {
            SingleReader = true, FullMode = BoundedChannelFullMode.Wait,
        });
    }

    private sealed record Pending(List<AnalyticsEvent> Events, List<QuarantinedEvent> Quarantine, DateTimeOffset Now)
    {
        public TaskCompletionSource<(int Accepted, int Duplicates)> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Stores the events (and quarantine rows); completes after the commit with how many were new and how many duplicates.</summary>
    public async Task<(int Accepted, int Duplicates)> WriteAsync(List<AnalyticsEvent> events, List<QuarantinedEvent> quarantine, DateTimeOffset now, CancellationToken ct)
    {
        if (events.Count == 0 && quarantine.Count == 0)
        {
            return (0, 0);
        }

        EnsureStarted();
        var pending = new Pending(events, quarantine, now);
        if (!channel.Writer.TryWrite(pending))
        {
            throw new StoreBusyException("The analytics ingest queue is full.");
        }

        // Not cancelled with the request: once queued the batch is stored (or not) as a whole; the answer just waits for it.
        return await pending.Done.Task.WaitAsync(ct);
    }

    private void EnsureStarted()
    {
        if (loop is not null)
        {
            return;
        }

        lock (startLock)
        {
            loop ??= Task.Run(RunAsync);
        }
    }

    private async Task RunAsync()
    {
        var group = new List<Pending>();
        while (await channel.Reader.WaitToReadAsync())
        {
            group.Clear();
            var events = 0;
            while (events < GroupEvents && channel.Reader.TryRead(out var p))
            {
                group.Add(p);
                events += p.Events.Count;
            }

            try
            {
                var results = await StoreAsync(group);
                for (var i = 0; i < group.Count; i++)
                {
                    group[i].Done.TrySetResult(results[i]);
                }
            }
            catch (Exception ex)
            {
                var busy = IsBusy(ex) ? new StoreBusyException("The analytics store is busy.", ex) : ex;
                if (busy is not StoreBusyException)
                {
                    WriterLog.Failed(log, ex);
                }

                foreach (var p in group)
                {
                    p.Done.TrySetException(busy);
                }
            }
        }
    }

    private static bool IsBusy(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is SqliteException { SqliteErrorCode: 5 or 6 } or TimeoutException) // SQLITE_BUSY, SQLITE_LOCKED; a pool or lock timeout
            {
                return true;
            }
        }

        return false;
    }

    private async Task<List<(int Accepted, int Duplicates)>> StoreAsync(List<Pending> group)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AnalyticsDb>();
        var sqlite = db.Database.IsSqlite();
        await db.Database.OpenConnectionAsync();
        var connection = db.Database.GetDbConnection();
        // SQLite: a deferred transaction takes the write lock at the first write, which waits for a busy database only
        // as long as the configured busy timeout (the command timeout), not the connection's 30 s default.
        await using DbTransaction? own = sqlite ? ((SqliteConnection)connection).BeginTransaction(deferred: true) : null;
        if (sqlite)
        {
            db.Database.SetCommandTimeout(Math.Max(1, options.BusyTimeoutSeconds));
        }

        await using var tx = own is not null ? (await db.Database.UseTransactionAsync(own))! : await db.Database.BeginTransactionAsync();
        var dbTx = tx.GetDbTransaction();

        // Ids seen earlier in this group are duplicates of the later ones (the insert would skip them anyway, but the
        // answer must say which batch stored the event).
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var fresh = new List<List<AnalyticsEvent>>(group.Count);
        var results = new List<(int Accepted, int Duplicates)>(group.Count);
        foreach (var p in group)
        {
            var mine = new List<AnalyticsEvent>(p.Events.Count);
            foreach (var e in p.Events)
            {
                if (seen.Add(e.Id))
                {
                    mine.Add(e);
                }
            }

            fresh.Add(mine);
        }

        var table = RawTable.Of(db);
        var stored = sqlite
            ? await InsertSqliteAsync(connection, dbTx, table, group, fresh)
            : await InsertPostgresAsync(connection, dbTx, table, group, fresh);

        var duplicates = 0;
        for (var i = 0; i < group.Count; i++)
        {
            var d = group[i].Events.Count - stored[i];
            duplicates += d;
            results.Add((stored[i], d));
            db.Quarantine.AddRange(group[i].Quarantine);
        }

        if (duplicates > 0)
        {
            var day = EventSchema.DayOf(group[0].Now);
            var counter = await db.Counters.FindAsync(day, "duplicates");
            if (counter is null)
            {
                db.Counters.Add(new AnalyticsCounter { Day = day, Name = "duplicates", Value = duplicates });
            }
            else
            {
                counter.Value += duplicates;
            }
        }

        await db.SaveChangesAsync();
        await tx.CommitAsync();
        return results;
    }

    private async Task<int[]> InsertSqliteAsync(DbConnection connection, DbTransaction tx, RawTable t, List<Pending> group, List<List<AnalyticsEvent>> fresh)
    {
        await using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandTimeout = Math.Max(1, options.BusyTimeoutSeconds);
        cmd.CommandText = $"INSERT INTO {t.Name} ({t.EventId}, {t.Type}, {t.ClientTime}, {t.Day}, {t.ReceivedAt}, {t.Json}) "
            + $"VALUES ($id, $type, $time, $day, $received, $json) ON CONFLICT ({t.EventId}) DO NOTHING";
        var id = Add(cmd, "$id");
        var type = Add(cmd, "$type");
        var time = Add(cmd, "$time");
        var day = Add(cmd, "$day");
        var received = Add(cmd, "$received");
        var json = Add(cmd, "$json");
        cmd.Prepare();
        var stored = new int[group.Count];
        for (var i = 0; i < group.Count; i++)
        {
            received.Value = t.Time(group[i].Now);
            foreach (var e in fresh[i])
            {
                id.Value = e.Id;
                type.Value = e.Type;
                time.Value = t.Time(e.Time);
                day.Value = EventSchema.DayOf(e.Time);
                json.Value = JsonSerializer.Serialize(e, AnalyticsJson.Default.AnalyticsEvent);
                stored[i] += await cmd.ExecuteNonQueryAsync();
            }
        }

        return stored;
    }

    private static async Task<int[]> InsertPostgresAsync(DbConnection connection, DbTransaction tx, RawTable t, List<Pending> group, List<List<AnalyticsEvent>> fresh)
    {
        var all = fresh.SelectMany((events, i) => events.Select(e => (e, Received: group[i].Now))).ToList();
        var stored = new int[group.Count];
        if (all.Count == 0)
        {
            return stored;
        }

        await using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"INSERT INTO {t.Name} ({t.EventId}, {t.Type}, {t.ClientTime}, {t.Day}, {t.ReceivedAt}, {t.Json}) "
            + "SELECT * FROM unnest(@id, @type, @time, @day, @received, @json) ON CONFLICT DO NOTHING RETURNING " + t.EventId;
        Add(cmd, "@id").Value = all.Select(x => x.e.Id).ToArray();
        Add(cmd, "@type").Value = all.Select(x => x.e.Type).ToArray();
        Add(cmd, "@time").Value = all.Select(x => x.e.Time.ToUniversalTime()).ToArray();
        Add(cmd, "@day").Value = all.Select(x => EventSchema.DayOf(x.e.Time)).ToArray();
        Add(cmd, "@received").Value = all.Select(x => x.Received.ToUniversalTime()).ToArray();
        Add(cmd, "@json").Value = all.Select(x => JsonSerializer.Serialize(x.e, AnalyticsJson.Default.AnalyticsEvent)).ToArray();
        var inserted = new HashSet<string>(StringComparer.Ordinal);
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                inserted.Add(reader.GetString(0));
            }
        }

        for (var i = 0; i < group.Count; i++)
        {
            stored[i] = fresh[i].Count(e => inserted.Contains(e.Id));
        }

        return stored;
    }

    private static DbParameter Add(DbCommand cmd, string name)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        cmd.Parameters.Add(p);
        return p;
    }

    public async ValueTask DisposeAsync()
    {
        channel.Writer.TryComplete();
        if (loop is not null)
        {
            await loop; // what was queued is stored (or failed) before the process ends
        }
    }

    /// <summary>The raw table's store names from the EF model (table prefix on SQLite, schema on PostgreSQL), quoted.</summary>
    private sealed record RawTable(string Name, string EventId, string Type, string ClientTime, string Day, string ReceivedAt, string Json, Func<DateTimeOffset, object> Time)
    {
        public static RawTable Of(AnalyticsDb db)
        {
            var entity = db.Model.FindEntityType(typeof(RawEvent))!;
            var sql = db.GetService<ISqlGenerationHelper>();
            var store = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
            string Column(string property) => sql.DelimitIdentifier(entity.FindProperty(property)!.GetColumnName(store)!);
            var converter = entity.FindProperty(nameof(RawEvent.ClientTime))!.GetTypeMapping().Converter;
            return new RawTable(
                sql.DelimitIdentifier(store.Name, store.Schema), Column(nameof(RawEvent.EventId)), Column(nameof(RawEvent.Type)), Column(nameof(RawEvent.ClientTime)),
                Column(nameof(RawEvent.Day)), Column(nameof(RawEvent.ReceivedAt)), Column(nameof(RawEvent.Json)),
                converter is null ? t => t : t => converter.ConvertToProvider(t)!);
        }
    }
}

internal static partial class WriterLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "Analytics raw event write failed; the requests were answered with the error.")]
    public static partial void Failed(ILogger logger, Exception exception);
}
