using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Analytics;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Marquee.Tests.Analytics.AnalyticsSupport;

namespace Marquee.Tests.Analytics;

/// <summary>
/// The pipeline's own duplicate removal (behind the spool writer's recent ids, here switched off with
/// <c>RecentIds=0</c>): an id twice in one step keeps the first received, an id already in the warehouse goes, and a
/// hash match on a different id removes nothing. The host runs the web role only, so the test takes the steps itself.
/// </summary>
public sealed class PipelineDedupTests : IAsyncLifetime
{
    private static readonly Guid Title = Guid.Parse("0195a0a0-0000-7000-8000-0000000000d1");
    private MarqueeApp app = null!;

    public async Task InitializeAsync() => app = await MarqueeApp.StartAsync(c =>
    {
        c["Marquee:Analytics:RecentIds"] = "0";
        c["Marquee:Roles"] = "web";
    });

    public async Task DisposeAsync() => await app.DisposeAsync();

    private static object FirstFrame(string id, int ms) =>
        new { id, type = "first_frame", time = At(Today.AddDays(-1), 7), user = "dedup-viewer", session = "dedup-" + id, title = Title, device = "web", ms };

    private async Task PostAsync(params object[] events)
    {
        var response = await app.AnonymousClient.PostAsJsonAsync("/api/analytics/events", events);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(events.Length, answer.GetProperty("accepted").GetInt32()); // the writer remembers no id: all spooled
    }

    private async Task StepsAsync()
    {
        var pipeline = app.Services.GetRequiredService<Pipeline>();
        while (await pipeline.RunOnceAsync(CancellationToken.None) > 0)
        {
        }
    }

    private async Task<List<(string Id, double Ms)>> RowsAsync() =>
        [.. (await app.Services.GetRequiredService<Warehouse>().QueryAsync(
                "SELECT event_id, ms FROM events WHERE user_id = 'dedup-viewer' ORDER BY event_id", new Dictionary<string, object?>(), CancellationToken.None))
            .Select(r => ((string)r[0]!, (double)r[1]!))];

    private async Task<long> DuplicatesAsync() =>
        (await app.Client.GetFromJsonAsync<JsonElement>("/api/analytics/status")).GetProperty("duplicates").GetInt64();

    [Fact]
    public async Task Duplicates_within_a_step_and_across_steps_are_removed_and_counted_and_a_hash_match_alone_removes_nothing()
    {
        // One step: "a" twice (two beacons), the first received stays.
        await PostAsync(FirstFrame("a", 1000));
        await PostAsync(FirstFrame("a", 9999), FirstFrame("b", 2000));
        await StepsAsync();
        Assert.Equal([("a", 1000.0), ("b", 2000.0)], await RowsAsync());
        Assert.Equal(1, await DuplicatesAsync());

        // A later step: "a" again (a resend after its load) goes, "c" is new.
        await PostAsync(FirstFrame("a", 5555), FirstFrame("c", 3000));
        await StepsAsync();
        Assert.Equal([("a", 1000.0), ("b", 2000.0), ("c", 3000.0)], await RowsAsync());
        Assert.Equal(2, await DuplicatesAsync());

        // "b"'s kept hash made equal to the one "d" will have: a candidate, but not the same id, so "d" stays.
        var warehouse = app.Services.GetRequiredService<Warehouse>();
        await warehouse.QueryAsync("UPDATE events SET id_hash = hash('d') WHERE event_id = 'b'", new Dictionary<string, object?>(), CancellationToken.None);
        await PostAsync(FirstFrame("d", 4000));
        await StepsAsync();
        Assert.Equal([("a", 1000.0), ("b", 2000.0), ("c", 3000.0), ("d", 4000.0)], await RowsAsync());
        Assert.Equal(2, await DuplicatesAsync());

        // The metrics count each event once: time to start over a, b, c and d.
        var day = Today.AddDays(-1);
        var (_, points) = await MetricAsync(app, "K6.time_to_start", day, day);
        Assert.Equal((1000 + 2000 + 3000 + 4000) / 4.0, points[(Day(day), "all")], 6);
    }

    [Fact]
    public async Task A_row_of_the_legacy_raw_table_is_loaded_through_the_same_step_once()
    {
        // Events that landed in the relational raw table before the spool existed are taken first, through the same load.
        var time = new DateTimeOffset(Today.AddDays(-2).ToDateTime(new TimeOnly(6, 0)), TimeSpan.Zero);
        var legacy = new AnalyticsEvent
        {
            Id = "legacy-1", Type = "first_frame", Time = time, User = "dedup-viewer", Session = "legacy-s", Title = Title, Device = "tv", Ms = 750,
        };
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<Marquee.Analytics.Data.AnalyticsDb>();
            db.RawEvents.Add(new Marquee.Analytics.Data.RawEvent
            {
                EventId = legacy.Id, Type = legacy.Type, ClientTime = time, Day = Day(Today.AddDays(-2)),
                ReceivedAt = TimeProvider.System.GetUtcNow().AddMinutes(-1), // settled (PostgreSQL takes rows a few seconds old)
                Json = JsonSerializer.Serialize(legacy, AnalyticsJson.Default.AnalyticsEvent),
            });
            await db.SaveChangesAsync();
        }

        await StepsAsync();
        await StepsAsync(); // nothing more: the raw watermark moved with the load
        var rows = await app.Services.GetRequiredService<Warehouse>().QueryAsync(
            "SELECT event_id, ms, device, ts FROM events WHERE event_id = 'legacy-1'", new Dictionary<string, object?>(), CancellationToken.None);
        var row = Assert.Single(rows);
        Assert.Equal(750.0, (double)row[1]!);
        Assert.Equal("tv", (string)row[2]!);
        Assert.Equal(time.UtcDateTime, (DateTime)row[3]!);
    }
}
