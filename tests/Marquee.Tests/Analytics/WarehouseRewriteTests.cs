using System.Globalization;
using Marquee.Analytics;
using Xunit.Abstractions;

namespace Marquee.Tests.Analytics;

/// <summary>
/// R32: DuckDB keeps the old values of updated rows in the blocks a checkpoint frees; the warehouse's rewrite (the
/// erasure's last step) leaves only the live rows in the file. No host: a warehouse file.
/// </summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class WarehouseRewriteTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "marquee-tests", "wh-" + Guid.NewGuid().ToString("N"));
    private Warehouse warehouse = null!;

    public Task InitializeAsync()
    {
        warehouse = new Warehouse(Path.Combine(folder, "warehouse.duckdb"), readOnly: false);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await warehouse.DisposeAsync();
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public async Task After_a_pseudonymisation_a_checkpoint_leaves_the_old_id_in_the_file_and_the_rewrite_does_not()
    {
        var user = Guid.NewGuid().ToString();
        const string pseudonym = "erased:0123456789abcdef0123456789abcdef";
        // 20,000 events, every 97th of the person (207), checkpointed into the file; a user day and an ETL position.
        await ExecuteAsync($"""
            INSERT INTO events (event_id, type, ts, day, user_id, session_id, ms)
              SELECT 'e' || i, 'first_frame', TIMESTAMP '2026-11-02 08:00:00', DATE '2026-11-02',
                     CASE WHEN i % 97 = 0 THEN '{user}' ELSE uuid()::VARCHAR END, 's' || (i % 50), i % 1000 FROM range(20000) t(i);
            INSERT INTO user_days (day, user_id, device, country, plan) VALUES (DATE '2026-11-02', '{user}', 'web', 'DE', 'free');
            INSERT INTO etl_state VALUES ('raw_seq', 7);
            CHECKPOINT;
            """);
        Assert.True(await warehouse.FilesHoldAsync(user, CancellationToken.None)); // the scan sees the person (it can fail)

        // What the erasure does to the rows, then a forced checkpoint: the WAL is emptied, but the file keeps the freed blocks.
        await ExecuteAsync($"""
            BEGIN;
            UPDATE events SET user_id = '{pseudonym}' WHERE user_id = '{user}';
            UPDATE user_days SET user_id = '{pseudonym}' WHERE user_id = '{user}';
            COMMIT;
            FORCE CHECKPOINT;
            """);
        Assert.Equal(0L, await CountAsync($"SELECT count(*) FROM events WHERE user_id = '{user}'"));
        var file = Path.Combine(folder, "warehouse.duckdb");
        Assert.False(File.Exists(file + ".wal") && await WalHoldsAsync(file + ".wal", user)); // the WAL does not
        Assert.True(await warehouse.FilesHoldAsync(user, CancellationToken.None), "a checkpoint alone no longer leaves the old id: the rewrite may be unneeded");
        output.WriteLine($"after the checkpoint: {new FileInfo(file).Length:N0} bytes, the old id in the file");

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await warehouse.RewriteAsync(CancellationToken.None);
        output.WriteLine($"rewritten in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms: {new FileInfo(file).Length:N0} bytes");
        Assert.False(await warehouse.FilesHoldAsync(user, CancellationToken.None));
        Assert.False(File.Exists(file + ".rewrite"));

        // The rows, their pseudonym and the keys are as before; the warehouse is usable (an upsert needs the primary key).
        Assert.Equal(20000L, await CountAsync("SELECT count(*) FROM events"));
        Assert.Equal(208L, await CountAsync($"SELECT (SELECT count(*) FROM events WHERE user_id = '{pseudonym}') + (SELECT count(*) FROM user_days WHERE user_id = '{pseudonym}')"));
        await ExecuteAsync("INSERT INTO etl_state VALUES ('raw_seq', 9) ON CONFLICT (name) DO UPDATE SET value = value + EXCLUDED.value");
        Assert.Equal(16L, await CountAsync("SELECT value FROM etl_state WHERE name = 'raw_seq'"));
        Assert.False(await warehouse.FilesHoldAsync(user, CancellationToken.None));
    }

    private static async Task<bool> WalHoldsAsync(string wal, string text) =>
        (await File.ReadAllBytesAsync(wal)).AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(text)) >= 0;

    private Task ExecuteAsync(string sql) => warehouse.UseAsync(async c =>
    {
        await Warehouse.ExecuteAsync(c, sql, CancellationToken.None);
        return 0;
    }, CancellationToken.None);

    private async Task<long> CountAsync(string sql) =>
        Convert.ToInt64((await warehouse.QueryAsync(sql, new Dictionary<string, object?>(), CancellationToken.None))[0][0], CultureInfo.InvariantCulture);
}
