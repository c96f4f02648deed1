using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Marquee.Tests.Analytics.AnalyticsSupport;

namespace Marquee.Tests.Analytics;

/// <summary>The beacon API through the real HTTP stack: duplicates, malformed events, late and too-late events, gzip NDJSON.</summary>
public sealed class EventCollectionTests(AnalyticsHost host) : IClassFixture<AnalyticsHost>
{
    private static readonly Guid Title = Guid.Parse("0195a0a0-0000-7000-8000-000000000002");
    private readonly MarqueeApp app = host.App;

    private static object FirstFrame(string id, string time, int ms) =>
        new { id, type = "first_frame", time, user = "viewer-1", session = "s-" + id, title = Title, device = "web", ms };

    private async Task<JsonElement> PostAsync(object[] events, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var response = await app.AnonymousClient.PostAsJsonAsync("/api/analytics/events", events);
        Assert.Equal(expected, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<JsonElement> StatusAsync() => await app.Client.GetFromJsonAsync<JsonElement>("/api/analytics/status");

    [Fact]
    public async Task A_duplicate_event_id_is_counted_once()
    {
        var day = Today.AddDays(-1);
        var e = FirstFrame("dup-1", At(day, 6), 1500);
        var first = await PostAsync([e, e]); // twice in one batch
        Assert.Equal(1, first.GetProperty("accepted").GetInt32());
        Assert.Equal(1, first.GetProperty("duplicates").GetInt32());
        var again = await PostAsync([e]); // and again later (a retried beacon): still 200, nothing new
        Assert.Equal(0, again.GetProperty("accepted").GetInt32());
        Assert.Equal(1, again.GetProperty("duplicates").GetInt32());

        await CaughtUpAsync(app, (await StatusAsync()).GetProperty("lastSeq").GetInt64());
        var (_, points) = await MetricAsync(app, "K6.time_to_start", day, day);
        Assert.Equal(1500, points[(Day(day), "all")], 6);
        var rollup = await app.Client.GetFromJsonAsync<JsonElement>($"/api/analytics/metrics?metric=K3.sessions_per_user&from={Day(day)}&to={Day(day)}");
        Assert.Equal(1.0, rollup.GetProperty("metrics")[0].GetProperty("points")[0].GetProperty("value").GetDouble(), 6);
        // The status counts duplicates as the pipeline loads their records; the retried beacon's record (no new event, one
        // duplicate) may land a step after the watermark above was reached, so the count is awaited, not read once.
        await Poll.UntilAsync(StatusAsync, s => s.GetProperty("duplicates").GetInt64() >= 2, what: "both duplicates counted in the status");
    }

    [Fact]
    public async Task Every_field_of_an_event_reaches_the_warehouse_as_sent()
    {
        // The pipeline hands the spooled NDJSON to DuckDB's JSON reader: escapes, unicode, a non-UTC offset, 7 fraction
        // digits, large integers and booleans must land exactly as the collector accepted them. (23:30 at -02:00 is 01:30 UTC
        // of the next day, 4 days ago: a day no other test of the class uses.)
        var time = new DateTimeOffset(Today.AddDays(-5).ToDateTime(new TimeOnly(23, 30, 15)), TimeSpan.FromHours(-2)).AddTicks(1234567);
        var answer = await PostAsync(
        [
            new
            {
                id = "round \"trip\" \\ é-1", type = "heartbeat", time = time.ToString("O"), user = "viewer-ü", session = "s-rt\n1", title = Title,
                device = "Web", country = "fr", plan = "premium", position = 61.5, duration = 2400.25, bitrate = 3200, ms = 12.75,
                amount = 12345678901L, currency = "eur", status = "Active", code = "E\t1", query = "naïve \u2028 search", path = "/w?a=1&b=\"2\"",
                channel = "ads", buffer = 21300.5, starved = true, throughput = 25400.0,
            },
        ]);
        Assert.Equal(1, answer.GetProperty("accepted").GetInt32());
        await CaughtUpAsync(app, (await StatusAsync()).GetProperty("lastSeq").GetInt64());

        var rows = await app.Services.GetRequiredService<Marquee.Analytics.Warehouse>().QueryAsync("""
            SELECT event_id, type, ts, day, user_id, session_id, title_id, device, country, plan, position, duration, bitrate, ms, amount,
                   currency, status, code, query, path, channel, buffer_ms, starved, throughput, cmcd, given_plan, received_at
            FROM events WHERE user_id = 'viewer-ü'
            """, new Dictionary<string, object?>(), CancellationToken.None);
        var r = Assert.Single(rows);
        Assert.Equal("round \"trip\" \\ é-1", r[0]);
        Assert.Equal("heartbeat", r[1]);
        var utc = time.UtcDateTime;
        Assert.Equal(new DateTime(utc.Ticks - utc.Ticks % 10), (DateTime)r[2]!); // microseconds: the tick digit is cut
        Assert.Equal(DateOnly.FromDateTime(utc), r[3] is DateOnly d ? d : DateOnly.FromDateTime((DateTime)r[3]!));
        Assert.Equal(["viewer-ü", "s-rt\n1", Title.ToString(), "web", "FR", "premium"], r[4..10]);
        Assert.Equal(61.5, (double)r[10]!);
        Assert.Equal(2400.25, (double)r[11]!);
        Assert.Equal(3200, Convert.ToInt32(r[12]));
        Assert.Equal(12.75, (double)r[13]!);
        Assert.Equal(12345678901L, Convert.ToInt64(r[14]));
        Assert.Equal(["EUR", "active", "E\t1", "naïve \u2028 search", "/w?a=1&b=\"2\"", "ads"], r[15..21]);
        Assert.Equal(21300.5, (double)r[21]!);
        Assert.Equal(true, r[22]);
        Assert.Equal(25400.0, (double)r[23]!);
        Assert.Null(r[24]);
        Assert.Equal("premium", r[25]);
        var received = (DateTime)r[26]!;
        var now = TimeProvider.System.GetUtcNow().UtcDateTime;
        Assert.InRange(received, now.AddMinutes(-5), now.AddMinutes(1));
    }

    [Fact]
    public async Task An_event_copied_to_the_spool_as_sent_reaches_the_warehouse_as_the_serializer_would_have_written_it()
    {
        // The common shape goes to the spool as its bytes (EventSchema.Parse's copyable text): raw UTF-8, escapes, a raw
        // U+2028, exponent numbers, 7 fraction digits at +00:00, explicit nulls. Beside it the same event with the time
        // at Z is written again by the serializer (not copyable): both must land alike.
        var at = new DateTimeOffset(Today.AddDays(-6).ToDateTime(new TimeOnly(3, 4, 5)), TimeSpan.Zero).AddTicks(1234567);
        var line = "{\"id\":\"copy-\\\"q\\\" é\\u00e9\",\"type\":\"heartbeat\",\"time\":\"" + at.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'+00:00'", System.Globalization.CultureInfo.InvariantCulture)
            + "\",\"user\":\"viewer-copy\",\"session\":\"s-c\u2028\",\"title\":\"" + Title + "\",\"position\":6.15e1,\"bitrate\":3200,\"duration\":null,"
            + "\"device\":\"web\",\"country\":\"FR\",\"starved\":false,\"amount\":12345678901}";
        var other = line.Replace("copy-", "serialized-", StringComparison.Ordinal).Replace("+00:00", "Z", StringComparison.Ordinal);
        Assert.True(Marquee.Analytics.EventSchema.Parse(Encoding.UTF8.GetBytes(line), out var copyable).Event is not null && copyable > 0);
        Assert.True(Marquee.Analytics.EventSchema.Parse(Encoding.UTF8.GetBytes(other), out var notCopyable).Event is not null && notCopyable < 0);
        using var content = new StringContent(line + "\n" + other + "\n", Encoding.UTF8, "application/x-ndjson");
        var response = await app.AnonymousClient.PostAsync("/api/analytics/events", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetInt32());
        await CaughtUpAsync(app, (await StatusAsync()).GetProperty("lastSeq").GetInt64());

        var rows = await app.Services.GetRequiredService<Marquee.Analytics.Warehouse>().QueryAsync("""
            SELECT event_id, type, ts, day, user_id, session_id, title_id, device, country, plan, position, duration, bitrate, amount, starved, given_plan
            FROM events WHERE user_id = 'viewer-copy' ORDER BY event_id
            """, new Dictionary<string, object?>(), CancellationToken.None);
        Assert.Equal(2, rows.Count);
        Assert.Equal("copy-\"q\" éé", rows[0][0]);
        Assert.Equal("serialized-\"q\" éé", rows[1][0]);
        foreach (var r in rows)
        {
            Assert.Equal("heartbeat", r[1]);
            var utc = at.UtcDateTime;
            Assert.Equal(new DateTime(utc.Ticks - utc.Ticks % 10), (DateTime)r[2]!);
            Assert.Equal(DateOnly.FromDateTime(utc), r[3] is DateOnly d ? d : DateOnly.FromDateTime((DateTime)r[3]!));
            Assert.Equal(["viewer-copy", "s-c\u2028", Title.ToString(), "web", "FR", "free"], r[4..10]);
            Assert.Equal(61.5, (double)r[10]!);
            Assert.Null(r[11]);
            Assert.Equal(3200, Convert.ToInt32(r[12]));
            Assert.Equal(12345678901L, Convert.ToInt64(r[13]));
            Assert.Equal(false, r[14]);
            Assert.Null(r[15]);
        }
    }

    [Fact]
    public async Task User_days_kept_incrementally_match_a_rebuild_of_the_day_and_an_earlier_late_event_takes_the_first_place()
    {
        var day = Today.AddDays(-3);
        object View(string id, int hour, string device) => new { id, type = "page_view", time = At(day, hour), user = "ud-viewer", device, path = "/" };
        await PostAsync([View("ud-1", 10, "tv")]);
        await CaughtUpAsync(app, (await StatusAsync()).GetProperty("lastSeq").GetInt64());
        await PostAsync([View("ud-2", 12, "web"), View("ud-3", 8, "ios")]); // a later step: the 08:00 event is now the day's first
        await CaughtUpAsync(app, (await StatusAsync()).GetProperty("lastSeq").GetInt64());
        await PostAsync([View("ud-4", 9, "android")]); // later than the kept first: changes nothing
        await CaughtUpAsync(app, (await StatusAsync()).GetProperty("lastSeq").GetInt64());

        var warehouse = app.Services.GetRequiredService<Marquee.Analytics.Warehouse>();
        async Task<List<string>> UserDaysAsync() => [.. (await warehouse.QueryAsync(
                $"SELECT user_id, device, country, plan, first_ts FROM user_days WHERE day = DATE '{Day(day)}' ORDER BY user_id",
                new Dictionary<string, object?>(), CancellationToken.None))
            .Select(r => string.Join("|", r.Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture))))];
        var kept = await UserDaysAsync();
        var mine = Assert.Single(kept, r => r.StartsWith("ud-viewer|", StringComparison.Ordinal));
        Assert.StartsWith("ud-viewer|ios|", mine, StringComparison.Ordinal);

        (await app.Client.PostAsync($"/api/analytics/rebuild?day={Day(day)}", null)).EnsureSuccessStatusCode();
        Assert.Equal(kept, await UserDaysAsync()); // the same rows as a recompute from all the day's events
    }

    [Fact]
    public async Task Malformed_events_are_quarantined_with_their_reason_and_a_wholly_bad_request_is_a_problem()
    {
        var now = TimeProvider.System.GetUtcNow().ToString("O");
        var answer = await PostAsync(
        [
            FirstFrame("ok-1", now, 900),
            new { id = "bad-1", type = "first_frame", user = "viewer-1", session = "s", title = Title, ms = 10 }, // no time
            new { id = "bad-2", type = "teleport", time = now, user = "viewer-1" }, // unknown type
            new { id = "bad-3", type = "heartbeat", time = now, user = "viewer-1", session = "s", title = Title, position = 3 }, // no bitrate
            new { id = "bad-4", type = "payment", time = now, user = "viewer-1", amount = 100, currency = "EUR" }, // server-only
            new { id = "bad-5", type = "first_frame", time = "yesterday", user = "viewer-1" }, // not a date
        ]);
        Assert.Equal(1, answer.GetProperty("accepted").GetInt32());
        Assert.Equal(5, answer.GetProperty("quarantined").GetInt32());
        var reasons = answer.GetProperty("refused").EnumerateArray().ToDictionary(r => r.GetProperty("index").GetInt32(), r => r.GetProperty("reason").GetString()!);
        Assert.Contains("time", reasons[1], StringComparison.Ordinal);
        Assert.Contains("unknown type", reasons[2], StringComparison.Ordinal);
        Assert.Contains("bitrate", reasons[3], StringComparison.Ordinal);
        Assert.Contains("server only", reasons[4], StringComparison.Ordinal);
        Assert.Contains("schema", reasons[5], StringComparison.Ordinal);

        var quarantine = await app.Client.GetFromJsonAsync<JsonElement>("/api/analytics/quarantine");
        Assert.Contains(quarantine.EnumerateArray(), q => q.GetProperty("eventId").GetString() == "bad-2" && q.GetProperty("reason").GetString()!.Contains("teleport", StringComparison.Ordinal));

        // A batch with nothing valid in it, and a body that is not JSON at all: problem details.
        var allBad = await app.AnonymousClient.PostAsJsonAsync("/api/analytics/events", new object[] { new { id = "bad-6" } });
        Assert.Equal(HttpStatusCode.BadRequest, allBad.StatusCode);
        Assert.Equal("application/problem+json", allBad.Content.Headers.ContentType?.MediaType);
        var garbage = await app.AnonymousClient.PostAsync("/api/analytics/events", new StringContent("[{not json", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        Assert.Equal("application/problem+json", garbage.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_late_event_lands_in_its_own_day_and_recomputes_it_and_one_older_than_seven_days_is_quarantined()
    {
        var day = Today.AddDays(-5);
        await PostAsync([FirstFrame("late-1", At(day, 9), 1000)]);
        await CaughtUpAsync(app, (await StatusAsync()).GetProperty("lastSeq").GetInt64());
        Assert.Equal(1000, (await MetricAsync(app, "K6.time_to_start", day, day)).Points[(Day(day), "all")], 6);

        // Arriving five days late, as gzip NDJSON: lands on its own day, whose figures are recomputed ((1000 + 3000) / 2).
        var ndjson = JsonSerializer.Serialize(FirstFrame("late-2", At(day, 10), 3000)) + "\n"
            + JsonSerializer.Serialize(FirstFrame("too-late-1", At(Today.AddDays(-8), 10), 500)) + "\n";
        using var body = new MemoryStream();
        await using (var gzip = new GZipStream(body, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync(Encoding.UTF8.GetBytes(ndjson));
        }

        var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        content.Headers.ContentEncoding.Add("gzip");
        var response = await app.AnonymousClient.PostAsync("/api/analytics/events", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, answer.GetProperty("accepted").GetInt32());
        Assert.Equal("too late: more than 7 days old", answer.GetProperty("refused")[0].GetProperty("reason").GetString());

        await CaughtUpAsync(app, (await StatusAsync()).GetProperty("lastSeq").GetInt64());
        Assert.Equal(2000, (await MetricAsync(app, "K6.time_to_start", day, day)).Points[(Day(day), "all")], 6);
        var (_, tooLateDay) = await MetricAsync(app, "K6.time_to_start", Today.AddDays(-8), Today.AddDays(-8));
        Assert.Empty(tooLateDay);

        // A re-run of the day gives the same figures (idempotent).
        (await app.Client.PostAsync($"/api/analytics/rebuild?day={Day(day)}", null)).EnsureSuccessStatusCode();
        Assert.Equal(2000, (await MetricAsync(app, "K6.time_to_start", day, day)).Points[(Day(day), "all")], 6);
    }
}

/// <summary>One host shared by a test class.</summary>
public sealed class AnalyticsHost : IAsyncLifetime
{
    public MarqueeApp App { get; private set; } = null!;

    public async Task InitializeAsync() => App = await MarqueeApp.StartAsync(c => c["Marquee:Analytics:BusyTimeoutSeconds"] = "1");

    public async Task DisposeAsync() => await App.DisposeAsync();
}
