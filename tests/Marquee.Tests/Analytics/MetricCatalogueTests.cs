using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Marquee.Analytics;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Marquee.Tests.Analytics.AnalyticsSupport;

namespace Marquee.Tests.Analytics;

/// <summary>
/// A hand-made event set through the beacon API (and server events through the collector, as the domain feed stores them),
/// then every implemented metric checked against values computed by hand (in the comments).
/// </summary>
public sealed class MetricCatalogueTests(HandMadeEvents events) : IClassFixture<HandMadeEvents>
{
    private static readonly DateOnly D1 = HandMadeEvents.D1;
    private static readonly DateOnly D2 = HandMadeEvents.D2;
    private readonly MarqueeApp app = events.App;

    [Theory]
    [InlineData("K1.completion_rate", 1, 0.5)] // s1 completed, s2 not (s3 never started): 1/2
    [InlineData("K1.completion_rate", 2, 0.0)] // s4 stopped at 600 of 1000 s
    [InlineData("K6.time_to_start", 1, 2000.0)] // (1000 + 3000) / 2
    [InlineData("K6.rebuffering_ratio", 1, 2000.0 / ((998 + 300) * 1000.0 + 2000))] // stall 2 s over 998 + 300 s watched
    [InlineData("K6.rebuffer_frequency", 1, 1 / ((998 + 300) / 3600.0))] // one stall per 1298 s watched
    [InlineData("K3.watch_time_per_session", 1, (998 + 300) / 60.0 / 2)]
    [InlineData("K3.watch_time_per_user_day", 2, 600 / 60.0 / 2)] // u1 watched 600 s; u1 and u3 active
    [InlineData("K3.sessions_per_user", 1, 1.0)] // two started sessions, two viewers
    [InlineData("K12.error_rate", 1, 1 / 3.0)] // one error over three play requests
    [InlineData("K7.crash_rate", 1, 0.5)] // one crash over two app sessions
    [InlineData("K2.registrations", 1, 2.0)]
    [InlineData("K2.dau", 2, 2.0)] // u1, u3
    [InlineData("K2.dau_mau", 1, 1.0)] // u1, u2 of u1, u2
    [InlineData("K2.dau_mau", 2, 2 / 3.0)] // u1, u3 of u1, u2, u3
    [InlineData("K2.registration_to_paid", 1, 1.0)] // both paid
    [InlineData("K4.revenue", 1, 30.0, "EUR")] // 10.00 + 20.00, per currency
    [InlineData("K4.arpu", 1, 15.0, "EUR")] // 30.00 over u1, u2
    [InlineData("K4.arpu", 2, 0.0)] // nothing paid on D2
    [InlineData("K4.paying_subscribers", 1, 2.0)]
    [InlineData("K4.paying_subscribers", 2, 1.0)] // u2 cancelled
    [InlineData("K3.churn_rate", 2, 0.5)] // u1, u2 paying at D2's start; u2 not at its end
    [InlineData("K4.renewal_rate", 2, 0.5)]
    public async Task Metric_matches_the_hand_computed_value(string metric, int day, double expected, string dimension = "all")
    {
        var d = day == 1 ? D1 : D2;
        var (status, points) = await MetricAsync(app, metric, d, d);
        Assert.Equal("ok", status);
        Assert.Equal(expected, points[(Day(d), dimension)], 6);
    }

    [Fact]
    public async Task Title_performance_gives_completion_deciles_drop_off_and_rewatch()
    {
        // T1's started sessions: s1 to 950/1000 (completed), s2 to 300, s4 to 600; u1 watched it twice (s1, s4), u2 once.
        var p = await app.Client.GetFromJsonAsync<JsonElement>($"/api/analytics/titles/{HandMadeEvents.T1}/performance?from={Day(D1)}&to={Day(D2)}");
        var t = p.GetProperty("title");
        Assert.Equal(3, t.GetProperty("sessions").GetInt64());
        Assert.Equal(1 / 3.0, t.GetProperty("completionRate").GetDouble(), 6);
        Assert.Equal(0.5, t.GetProperty("rewatch").GetDouble(), 6);
        var deciles = t.GetProperty("completionDeciles").EnumerateArray().Select(x => Math.Round(x.GetDouble(), 6)).ToArray();
        Assert.Equal([0, 0, 0, Math.Round(1 / 3.0, 6), 0, 0, Math.Round(1 / 3.0, 6), 0, 0, Math.Round(1 / 3.0, 6)], deciles);
        var still = t.GetProperty("stillWatching").EnumerateArray().Select(x => Math.Round(x.GetDouble(), 6)).ToArray();
        Assert.Equal(1.0, still[0]);
        Assert.Equal(Math.Round(2 / 3.0, 6), still[5]); // s1 and s4 passed half-way
        Assert.Equal(Math.Round(1 / 3.0, 6), still[9]);
        Assert.Equal(0.0, still[10]);
        Assert.Equal(3, p.GetProperty("genreAverage").GetProperty("sessions").GetInt64()); // T1 is the only title of its genre here
    }

    [Fact]
    public async Task Metrics_are_cut_by_dimension_and_grain_and_unsourced_ones_say_no_data_yet()
    {
        // By device and by plan (u1 on standard, u2 on premium when they played).
        var (_, byDevice) = await MetricAsync(app, "K1.completion_rate", D1, D1, by: "device");
        Assert.Equal(1.0, byDevice[(Day(D1), "web")], 6);
        Assert.Equal(0.0, byDevice[(Day(D1), "ios")], 6);
        var (_, byPlan) = await MetricAsync(app, "K1.completion_rate", D1, D1, by: "plan");
        Assert.Equal(1.0, byPlan[(Day(D1), "standard")], 6);
        Assert.Equal(0.0, byPlan[(Day(D1), "premium")], 6);

        // Month grain: the roll-ups add up (1 completed of 3 started when both days are in one month).
        var (_, monthly) = await MetricAsync(app, "K1.completion_rate", D1, D2, grain: "month");
        if (D1.Month == D2.Month)
        {
            Assert.Equal(1 / 3.0, Assert.Single(monthly).Value, 6);
        }
        else
        {
            Assert.Equal([0.5, 0.0], monthly.OrderBy(p => p.Key.Period).Select(p => Math.Round(p.Value, 6)));
        }

        var (status, points) = await MetricAsync(app, "K5.fill_rate", D1, D2);
        Assert.Equal("no data yet", status);
        Assert.Empty(points);

        var csv = await app.Client.GetStringAsync($"/api/analytics/metrics?metric=K4.revenue&from={Day(D1)}&to={Day(D1)}&format=csv");
        Assert.Contains($"K4.revenue,{Day(D1)},EUR,30,ok", csv, StringComparison.Ordinal);

        // Viewers have no business in the console's numbers.
        var viewer = await app.ClientWithRolesAsync();
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await viewer.GetAsync("/api/analytics/metrics")).StatusCode);
    }
}

/// <summary>One host with the hand-made event set, shared by the tests of <see cref="MetricCatalogueTests"/>.</summary>
public sealed class HandMadeEvents : IAsyncLifetime
{
    public static readonly DateOnly D1 = Today.AddDays(-3);
    public static readonly DateOnly D2 = Today.AddDays(-2);
    public static readonly Guid T1 = Guid.Parse("0195a0a0-0000-7000-8000-000000000001");

    public MarqueeApp App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var app = App = await MarqueeApp.StartAsync();
        object E(string id, string type, string time, string user, object? extra = null)
        {
            var o = new JsonObject { ["id"] = id, ["type"] = type, ["time"] = time, ["user"] = user };
            if (extra is not null)
            {
                foreach (var (k, v) in JsonSerializer.SerializeToNode(extra)!.AsObject())
                {
                    o[k] = v?.DeepClone();
                }
            }

            return o;
        }

        object P(string session, string device, string country, object? more = null)
        {
            var o = JsonSerializer.SerializeToNode(new { session, title = T1, device, country, duration = 1000 })!.AsObject();
            if (more is not null)
            {
                foreach (var (k, v) in JsonSerializer.SerializeToNode(more)!.AsObject())
                {
                    o[k] = v?.DeepClone();
                }
            }

            return o;
        }

        object[] client =
        [
            // D1, u1 (web, FR): signs up; s1 plays T1 (1000 s) to 950 s: completed; start 1000 ms; one 2 s stall; watch 1000 - 2 = 998 s.
            E("a1", "sign_up", At(D1, 8), "u1", new { device = "web", country = "FR", channel = "search" }),
            E("a2", "play_request", At(D1, 10), "u1", P("s1", "web", "FR")),
            E("a3", "first_frame", At(D1, 10, 0, 1), "u1", P("s1", "web", "FR", new { ms = 1000 })),
            E("a4", "heartbeat", At(D1, 10, 1, 1), "u1", P("s1", "web", "FR", new { position = 60, bitrate = 3000 })),
            E("a5", "rebuffer_start", At(D1, 10, 2), "u1", P("s1", "web", "FR")),
            E("a6", "rebuffer_end", At(D1, 10, 2, 2), "u1", P("s1", "web", "FR", new { ms = 2000 })),
            E("a7", "end", At(D1, 10, 16, 41), "u1", P("s1", "web", "FR", new { position = 950 })),
            // D1, u2 (ios, DE): signs up; two app sessions, one crash; s2 starts in 3000 ms, leaves at 300 s (watch 300 s);
            // s3 fails before its first frame.
            E("b1", "sign_up", At(D1, 9), "u2", new { device = "ios", country = "DE", channel = "ads" }),
            E("b2", "session_start", At(D1, 10, 59), "u2", new { session = "app1", device = "ios" }),
            E("b3", "session_start", At(D1, 11, 30), "u2", new { session = "app2", device = "ios" }),
            E("b4", "crash", At(D1, 11, 31), "u2", new { session = "app2", device = "ios" }),
            E("b5", "play_request", At(D1, 11), "u2", P("s2", "ios", "DE")),
            E("b6", "first_frame", At(D1, 11, 0, 3), "u2", P("s2", "ios", "DE", new { ms = 3000 })),
            E("b7", "heartbeat", At(D1, 11, 1, 3), "u2", P("s2", "ios", "DE", new { position = 60, bitrate = 2000 })),
            E("b8", "end", At(D1, 11, 5, 3), "u2", P("s2", "ios", "DE", new { position = 300 })),
            E("b9", "play_request", At(D1, 12), "u2", P("s3", "ios", "DE")),
            E("b10", "error", At(D1, 12, 0, 2), "u2", P("s3", "ios", "DE", new { code = "MEDIA_ERR_NETWORK" })),
            // D2: u1 watches s4 (start 2000 ms, to 600 s: watch 600 s, not completed); u3 only looks at a page.
            E("c1", "play_request", At(D2, 10), "u1", P("s4", "web", "FR")),
            E("c2", "first_frame", At(D2, 10, 0, 2), "u1", P("s4", "web", "FR", new { ms = 2000 })),
            E("c3", "end", At(D2, 10, 10, 2), "u1", P("s4", "web", "FR", new { position = 600 })),
            E("c4", "page_view", At(D2, 13), "u3", new { path = "/", device = "web", country = "GB" }),
        ];
        var response = await app.AnonymousClient.PostAsJsonAsync("/api/analytics/events", client);
        response.EnsureSuccessStatusCode();
        Assert.Equal(client.Length, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetInt32());

        // Server events (Billing's), as the domain feed stores them: u1 pays 10.00 on D1 08:30; u2 pays 20.00 on D1 09:30
        // and cancels on D2 15:00.
        JsonNode?[] server =
        [
            JsonNode.Parse($$"""{"id":"d1","type":"subscription","time":"{{At(D1, 8, 30)}}","user":"u1","plan":"standard","status":"Active"}"""),
            JsonNode.Parse($$"""{"id":"d2","type":"payment","time":"{{At(D1, 8, 30)}}","user":"u1","amount":1000,"currency":"EUR","code":"subscription"}"""),
            JsonNode.Parse($$"""{"id":"d3","type":"subscription","time":"{{At(D1, 9, 30)}}","user":"u2","plan":"premium","status":"Active"}"""),
            JsonNode.Parse($$"""{"id":"d4","type":"payment","time":"{{At(D1, 9, 30)}}","user":"u2","amount":2000,"currency":"EUR","code":"subscription"}"""),
            JsonNode.Parse($$"""{"id":"d5","type":"subscription","time":"{{At(D2, 15)}}","user":"u2","plan":"premium","status":"Canceled"}"""),
        ];
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var stored = await scope.ServiceProvider.GetRequiredService<Collector>().IngestAsync([.. server.Select(n => EventSchema.Parse(n).Event!)], backfill: false, CancellationToken.None);
            Assert.Equal(server.Length, stored.Accepted);
        }

        await CaughtUpAsync(app, client.Length + server.Length);
    }

    public async Task DisposeAsync() => await App.DisposeAsync();
}
