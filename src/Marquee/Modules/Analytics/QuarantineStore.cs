using Marquee.Analytics.Data;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Analytics;

/// <summary>Analytics settings (<c>Marquee:Analytics</c>).</summary>
internal sealed class AnalyticsOptions
{
    public const string Section = "Marquee:Analytics";

    /// <summary>Requests waiting for the spool writer; beyond it the beacon answers 503 with Retry-After.</summary>
    public int IngestQueue { get; set; } = 256;

    /// <summary>How long the quarantine waits for a busy SQLite database before the batch is given back as 503, in seconds.</summary>
    public int BusyTimeoutSeconds { get; set; } = 5;

    /// <summary>A spool segment file is closed and a new one started past this size, in MiB (loaded segments are removed).</summary>
    public int SpoolSegmentMegabytes { get; set; } = 64;

    /// <summary>Event ids the spool writer remembers to answer a re-sent event as a duplicate at once (older ones are removed when loaded).</summary>
    public int RecentIds { get; set; } = 200_000;

    /// <summary>At most this many events per pipeline step (one DuckDB transaction).</summary>
    public int LoadBatchEvents { get; set; } = 1_000_000;

    /// <summary>
    /// DuckDB checkpoints the warehouse (writes the WAL's changes into the file) when its WAL passes this size, in MiB
    /// (DuckDB's own default is 16). A checkpoint after every large step cost as much as the step's load; with a larger
    /// threshold one checkpoint covers many steps. The pipeline also checkpoints whenever it has caught up and the WAL
    /// holds more than <see cref="IdleCheckpointMegabytes"/>, so the WAL a restart replays stays small unless the server
    /// is busy. The price of a larger value: up to that much WAL replayed at start after a crash (about 3 s for 200 MiB).
    /// </summary>
    public int CheckpointMegabytes { get; set; } = 512;

    /// <summary>When caught up, the pipeline checkpoints the warehouse if its WAL is larger than this, in MiB.</summary>
    public int IdleCheckpointMegabytes { get; set; } = 16;

    /// <summary>
    /// R32: after an erasure's pseudonymisation the warehouse file is rewritten (<see cref="Warehouse.RewriteAsync"/>), so the
    /// replaced account id is not left in DuckDB's WAL or freed blocks. Off: only the rows are pseudonymised; the old id stays
    /// in the files until DuckDB reuses the space (for a warehouse too large to copy per erasure).
    /// </summary>
    public bool RewriteWarehouseOnErasure { get; set; } = true;

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
/// The quarantine: refused events with their reason, in the module's relational table (refusals are rare next to accepted
/// events, so one short transaction per request is fine). SQLite waits for a busy database only
/// <see cref="AnalyticsOptions.BusyTimeoutSeconds"/>; then the request is answered 503 with Retry-After
/// (<see cref="StoreBusyException"/>) before anything of the batch is spooled.
/// </summary>
internal sealed class QuarantineStore(IServiceScopeFactory scopes, IOptions<AnalyticsOptions> options)
{
    public async Task WriteAsync(List<QuarantinedEvent> quarantine, CancellationToken ct)
    {
        if (quarantine.Count == 0)
        {
            return;
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AnalyticsDb>();
            if (db.Database.IsSqlite())
            {
                // A deferred transaction takes the write lock at the first write, which waits for a busy database only as
                // long as the configured busy timeout (the command timeout), not the connection's 30 s default.
                await db.Database.OpenConnectionAsync(ct);
                db.Database.SetCommandTimeout(Math.Max(1, options.Value.BusyTimeoutSeconds));
                await using var own = ((SqliteConnection)db.Database.GetDbConnection()).BeginTransaction(deferred: true);
                await db.Database.UseTransactionAsync(own, ct);
                db.Quarantine.AddRange(quarantine);
                await db.SaveChangesAsync(ct);
                await own.CommitAsync(ct);
            }
            else
            {
                db.Quarantine.AddRange(quarantine);
                await db.SaveChangesAsync(ct);
            }
        }
        catch (Exception ex) when (IsBusy(ex))
        {
            throw new StoreBusyException("The analytics store is busy.", ex);
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
}
