using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Analytics;
using Marquee.Analytics.Data;
using Marquee.Identity.Contracts;
using Marquee.Platform.Events;
using Marquee.Tests.Delivery;
using Marquee.Tests.Support;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static Marquee.Tests.Analytics.AnalyticsSupport;

namespace Marquee.Tests.Analytics;

/// <summary>Back-pressure of the beacon and the privacy erasure of a deleted account, on the analytics class host.</summary>
public sealed class IngestAndPrivacyTests(AnalyticsHost host) : IClassFixture<AnalyticsHost>
{
    private static readonly Guid Title = Guid.Parse("0195a0a0-0000-7000-8000-000000000003");
    private readonly MarqueeApp app = host.App;

    private static object FirstFrame(string id, string user, string time, int ms) =>
        new { id, type = "first_frame", time, user, session = "s-" + id, title = Title, device = "web", ms };

    [Fact]
    public async Task A_busy_database_answers_503_with_Retry_After_as_problem_details_and_the_retry_is_stored()
    {
        if (TestDatabase.IsPostgres)
        {
            return; // the busy case is SQLite's write lock; PostgreSQL writers do not exclude each other
        }

        string connectionString;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            connectionString = scope.ServiceProvider.GetRequiredService<AnalyticsDb>().Database.GetConnectionString()!;
        }

        // Accepted events go to the spool (a file, not the database); the refused one of the batch goes to the quarantine
        // table first, so a locked database refuses the whole batch before anything of it is acknowledged.
        var now = TimeProvider.System.GetUtcNow().ToString("O");
        var batch = new object[] { FirstFrame("busy-1", "viewer-b", now, 700), new { id = "busy-bad", type = "teleport", time = now, user = "viewer-b" } };
        await using (var locker = new SqliteConnection(connectionString))
        {
            await locker.OpenAsync();
            await using var hold = (SqliteTransaction)await locker.BeginTransactionAsync(); // BEGIN IMMEDIATE: the write lock
            var busy = await app.AnonymousClient.PostAsJsonAsync("/api/analytics/events", batch);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
            Assert.Equal("application/problem+json", busy.Content.Headers.ContentType?.MediaType);
            Assert.True(busy.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After in seconds");
        }

        var retry = await app.AnonymousClient.PostAsJsonAsync("/api/analytics/events", batch);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        var answer = await retry.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, answer.GetProperty("accepted").GetInt32()); // nothing of the 503 was spooled: not a duplicate now
        Assert.Equal(0, answer.GetProperty("duplicates").GetInt32());
        Assert.Equal(1, answer.GetProperty("quarantined").GetInt32());
    }

    [Fact]
    public async Task A_deleted_account_is_pseudonymised_in_the_warehouse_and_gone_from_the_spool_and_the_figures_stay()
    {
        var account = Guid.NewGuid();
        var day = Today.AddDays(-2);
        var posted = await app.AnonymousClient.PostAsJsonAsync("/api/analytics/events",
            new[] { FirstFrame("erase-1", account.ToString(), At(day, 7), 1200), FirstFrame("erase-2", account.ToString(), At(day, 8), 800) });
        posted.EnsureSuccessStatusCode();
        await CaughtUpAsync(app, (await app.Client.GetFromJsonAsync<JsonElement>("/api/analytics/status")).GetProperty("lastSeq").GetInt64());
        var before = (await MetricAsync(app, "K6.time_to_start", day, day)).Points[(Day(day), "all")];

        await using (var scope = app.Services.CreateAsyncScope())
        {
            var handler = scope.ServiceProvider.GetRequiredService<AccountErasure>();
            var at = TimeProvider.System.GetUtcNow();
            await handler.HandleAsync(new AccountDeleted(account, at, at), new EventContext(Guid.NewGuid(), "identity.account-deleted.v1", at, 1, "Identity"), CancellationToken.None);
        }

        // The spool: the segments that held the person's events were loaded and deleted (no file of it names the account).
        var spool = EventSpool.RootIn(app.DataDir);
        Assert.True(Directory.Exists(spool), "the events went through the spool");
        Assert.All(Directory.GetFiles(spool, "*.seg", SearchOption.AllDirectories),
            f => Assert.DoesNotContain(account.ToString(), File.ReadAllText(f), StringComparison.OrdinalIgnoreCase));

        var warehouse = app.Services.GetRequiredService<Warehouse>();
        foreach (var table in new[] { "events", "sessions", "user_days" })
        {
            var rows = await warehouse.QueryAsync($"SELECT count(*) FROM {table} WHERE user_id = $u", new Dictionary<string, object?> { ["u"] = account.ToString() }, CancellationToken.None);
            Assert.Equal(0L, Convert.ToInt64(rows[0][0]));
        }

        var pseudonymous = await warehouse.QueryAsync("SELECT count(DISTINCT user_id) FROM events WHERE event_id IN ('erase-1', 'erase-2') AND user_id LIKE 'erased:%'",
            new Dictionary<string, object?>(), CancellationToken.None);
        Assert.Equal(1L, Convert.ToInt64(pseudonymous[0][0])); // one pseudonym: still one viewer in the figures
        Assert.Equal(before, (await MetricAsync(app, "K6.time_to_start", day, day)).Points[(Day(day), "all")], 6);
    }
}

/// <summary>CMCD at the origin: a real segment request of a playback session (stub package, no ffmpeg) into the warehouse.</summary>
public sealed class CmcdTests(HlsStub package, SharedPlaybackHost shared) : IClassFixture<HlsStub>, IClassFixture<SharedPlaybackHost>
{
    [Fact]
    public async Task A_segment_request_with_CMCD_lands_as_an_event_with_its_keys_and_malformed_CMCD_is_quarantined_without_failing_the_segment()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);
        var cmcd = "br=3200,bl=21300,bs,cid=\"title-1\",d=4004,mtp=25400,ot=v,rtp=15000,sf=h,sid=\"6e2fb550-c457-11e9-bb97-0800200c9a66\",su";
        var ok = await app.Client.GetAsync(session.Base + "360p/seg_0.m4s?CMCD=" + Uri.EscapeDataString(cmcd));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var bad = await app.Client.GetAsync(session.Base + "360p/seg_0.m4s?CMCD=" + Uri.EscapeDataString("br=fast,BL=?"));
        Assert.Equal(HttpStatusCode.OK, bad.StatusCode); // the segment is served whatever the CMCD says

        var today = Today;
        var throughput = await Poll.UntilAsync(
            async () => await MetricAsync(app, "K6.cmcd_throughput", today, today),
            m => m.Points.ContainsKey((Day(today), "all")), TimeSpan.FromSeconds(30), "the CMCD event in the warehouse");
        Assert.Equal(25400, throughput.Points[(Day(today), "all")], 6);
        Assert.Equal(1.0, (await MetricAsync(app, "K6.cmcd_starvation", today, today)).Points[(Day(today), "all")], 6);
        Assert.Equal(21300, (await MetricAsync(app, "K6.cmcd_buffer", today, today)).Points[(Day(today), "all")], 6);

        var rows = await app.Services.GetRequiredService<Warehouse>().QueryAsync(
            "SELECT session_id, title_id, bitrate, starved, code, cmcd FROM events WHERE type = 'cmcd'", new Dictionary<string, object?>(), CancellationToken.None);
        var e = Assert.Single(rows);
        Assert.Equal(session.Id.ToString(), e[0]);
        Assert.Equal(package.TitleId.ToString(), e[1]);
        Assert.Equal(3200, Convert.ToInt32(e[2]));
        Assert.Equal(true, e[3]);
        Assert.Equal("v", e[4]);
        Assert.Contains("sid=\"6e2fb550", (string)e[5]!, StringComparison.Ordinal);
        // The malformed one may come in the next second's batch.
        await Poll.UntilAsync(
            async () => await app.Client.GetFromJsonAsync<JsonElement>("/api/analytics/quarantine"),
            q => q.EnumerateArray().Any(r => r.GetProperty("reason").GetString()!.StartsWith("cmcd: br: not a number", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "the malformed CMCD in the quarantine");
    }
}
