using System.Net;
using System.Net.Http.Json;
using Marquee.Analytics;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Marquee.Tests.Analytics.AnalyticsSupport;

namespace Marquee.Tests.Analytics;

/// <summary>
/// The warehouse's WAL (DuckDB checkpoints only past <c>CheckpointMegabytes</c>, 512 MiB by default, so large steps do not
/// each pay a checkpoint) is checkpointed by the pipeline once it has caught up and the WAL is past
/// <c>IdleCheckpointMegabytes</c>: with 0, every catch-up leaves no WAL; with a bound above the WAL's size, the WAL stays.
/// </summary>
public sealed class WarehouseCheckpointTests
{
    private static async Task<(bool WalLeft, long Events)> LoadAsync(string idleMegabytes)
    {
        await using var app = await MarqueeApp.StartAsync(c => c["Marquee:Analytics:IdleCheckpointMegabytes"] = idleMegabytes);
        var events = Enumerable.Range(0, 200).Select(i => (object)new
        {
            id = $"ckpt-{i}", type = "first_frame", time = At(Today.AddDays(-1), 9, i / 60, i % 60), user = "ckpt-viewer", session = $"ckpt-s{i}",
            title = Guid.Parse("0195a0a0-0000-7000-8000-0000000000c1"), device = "web", ms = 800,
        }).ToArray();
        var response = await app.AnonymousClient.PostAsJsonAsync("/api/analytics/events", events);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await CaughtUpAsync(app, 200);
        var warehouse = app.Services.GetRequiredService<Warehouse>();
        var wal = warehouse.FilePath + ".wal";
        if (idleMegabytes == "0")
        {
            await Poll.UntilAsync(() => Task.FromResult(File.Exists(wal)), left => !left, TimeSpan.FromSeconds(20), "the idle checkpoint to remove the WAL");
        }

        var count = Convert.ToInt64((await warehouse.QueryAsync("SELECT count(*) FROM events WHERE user_id = 'ckpt-viewer'", new Dictionary<string, object?>(), CancellationToken.None))[0][0],
            System.Globalization.CultureInfo.InvariantCulture);
        return (File.Exists(wal), count);
    }

    [Fact]
    public async Task Once_caught_up_the_pipeline_checkpoints_a_wal_past_its_idle_bound() =>
        Assert.Equal((false, 200L), await LoadAsync("0"));

    [Fact]
    public async Task A_wal_under_the_idle_bound_is_left_to_DuckDB() =>
        Assert.Equal((true, 200L), await LoadAsync("1024"));
}
