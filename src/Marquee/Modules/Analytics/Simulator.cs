using System.Text.Json;
using System.Text.Json.Nodes;
using Marquee.Catalog.Contracts;

namespace Marquee.Analytics;

internal sealed record SimulationResult(int Viewers, int Days, int Events, int Accepted, int Duplicates, int Quarantined);

/// <summary>
/// A simulated audience driven through the real event path (the collector: the same validation, de-duplication and raw
/// table as the beacon API): sign-ups over the past days, visits that fade, plays with realistic drop-off, start times and
/// stalls, errors and crashes, subscriptions with payments, renewals and churn. Client times are spread over the past
/// <c>days</c>; the simulator's history is a backfill, so the 7-day lateness limit does not apply to it. Seeded: the same
/// seed and clock give the same events (and ids, so a re-run is all duplicates).
/// </summary>
internal sealed class Simulator(Collector collector, ICatalog catalog, TimeProvider time)
{
    private static readonly (string Device, double Weight)[] Devices = [("web", 0.5), ("ios", 0.2), ("android", 0.2), ("tv", 0.1)];
    private static readonly string[] Countries = ["FR", "DE", "GB", "US", "ES", "IT"];
    private static readonly string[] Channels = ["search", "social", "referral", "ads"];
    private static readonly string[] Queries = ["space", "comedy", "live concert", "documentary", "kids"];

    public async Task<SimulationResult> RunAsync(int viewers, int days, int seed, CancellationToken ct)
    {
        var random = new Random(seed);
        var now = time.GetUtcNow();
        var start = now.AddDays(-days);
        var titles = (await catalog.NewestAsync(50, ct)).Select(t => (t.Id, Seconds: t.Duration?.TotalSeconds is { } s && s > 60 ? s : 45 * 60.0)).ToList();
        if (titles.Count == 0)
        {
            titles = [.. Enumerable.Range(1, 12).Select(i => (new Guid(i, 0, 0, new byte[8]), (20 + 10 * (i % 6)) * 60.0))];
        }

        var batch = new List<AnalyticsEvent>();
        int events = 0, accepted = 0, duplicates = 0, quarantined = 0;
        async Task FlushAsync()
        {
            if (batch.Count == 0)
            {
                return;
            }

            var r = await collector.IngestAsync(batch, backfill: true, ct);
            events += batch.Count;
            accepted += r.Accepted;
            duplicates += r.Duplicates;
            quarantined += r.Quarantined;
            batch.Clear();
        }

        for (var v = 0; v < viewers; v++)
        {
            var user = $"sim-{seed}-{v}";
            var n = 0;
            void Add(AnalyticsEvent e)
            {
                if (e.Time <= now)
                {
                    batch.Add(e with { Id = $"{user}-{n++}", User = user });
                }
            }

            var device = Pick(random, Devices);
            var country = Countries[random.Next(Countries.Length)];
            var signUp = start.AddSeconds(random.NextDouble() * days * 86400);
            Add(new AnalyticsEvent { Type = EventSchema.PageView, Time = signUp.AddMinutes(-3), Device = device, Country = country, Path = "/" });
            Add(new AnalyticsEvent { Type = EventSchema.SignUp, Time = signUp, Device = device, Country = country, Channel = Channels[random.Next(Channels.Length)] });

            // Subscription: 45% subscribe within three days; a monthly renewal; about 10% a week cancel.
            string? plan = null;
            DateTimeOffset? subscribed = null, cancelled = null;
            if (random.NextDouble() < 0.45)
            {
                plan = random.NextDouble() < 0.7 ? "standard" : "premium";
                subscribed = signUp.AddHours(random.NextDouble() * 72);
                var amount = plan == "standard" ? 999L : 1499L;
                Add(new AnalyticsEvent { Type = EventSchema.Purchase, Time = subscribed.Value, Device = device, Country = country, Amount = amount, Currency = "EUR" });
                Add(new AnalyticsEvent { Type = EventSchema.Subscription, Time = subscribed.Value, Plan = plan, Status = "active" });
                Add(new AnalyticsEvent { Type = EventSchema.Payment, Time = subscribed.Value.AddSeconds(2), Amount = amount, Currency = "EUR", Code = "subscription", Country = country, Plan = plan });
                for (var t = subscribed.Value; t < now; t = t.AddDays(7))
                {
                    if (t > subscribed.Value && random.NextDouble() < 0.1)
                    {
                        cancelled = t.AddHours(random.NextDouble() * 24);
                        Add(new AnalyticsEvent { Type = EventSchema.Subscription, Time = cancelled.Value, Plan = plan, Status = "canceled" });
                        break;
                    }

                    if (t.AddDays(30) is var renewal && renewal < now && (renewal - subscribed.Value).TotalDays % 30 < 7)
                    {
                        Add(new AnalyticsEvent { Type = EventSchema.Payment, Time = renewal, Amount = amount, Currency = "EUR", Code = "subscription", Country = country, Plan = plan });
                    }
                }
            }

            // Visits: likely on the first days, fading (subscribers fade slower); one to three plays a visit.
            for (var day = 0; signUp.AddDays(day) < now; day++)
            {
                var paying = subscribed is { } s && s <= signUp.AddDays(day) && (cancelled is null || cancelled > signUp.AddDays(day));
                var p = (day == 0 ? 0.9 : 0.55) * Math.Pow(paying ? 0.985 : 0.93, day);
                if (random.NextDouble() > p)
                {
                    continue;
                }

                var visit = day == 0 ? signUp.AddMinutes(5) : signUp.Date.AddDays(day).AddHours(7 + random.NextDouble() * 16) is var dt ? new DateTimeOffset(dt, TimeSpan.Zero) : default;
                var app = $"{user}-app-{day}";
                Add(new AnalyticsEvent { Type = EventSchema.SessionStart, Time = visit, Session = app, Device = device, Country = country });
                if (random.NextDouble() < 0.3)
                {
                    Add(new AnalyticsEvent { Type = EventSchema.Search, Time = visit.AddSeconds(20), Device = device, Country = country, Query = Queries[random.Next(Queries.Length)] });
                }

                if (device != "web" && random.NextDouble() < 0.02)
                {
                    Add(new AnalyticsEvent { Type = EventSchema.Crash, Time = visit.AddMinutes(1), Session = app, Device = device, Country = country, Code = "SIGSEGV" });
                    continue;
                }

                var plays = 1 + random.Next(3);
                var clock = visit.AddSeconds(40);
                for (var k = 0; k < plays; k++)
                {
                    clock = Play(random, titles[Zipf(random, titles.Count)], $"{app}-{k}", clock, device, country, Add);
                }
            }

            if (batch.Count >= 2000)
            {
                await FlushAsync();
            }
        }

        await FlushAsync();
        return new SimulationResult(viewers, days, events, accepted, duplicates, quarantined);
    }

    /// <summary>One play: request, first frame after a log-normal start time, heartbeats every 60 s with stalls and bitrate switches, drop-off, end.</summary>
    private static DateTimeOffset Play(Random random, (Guid Id, double Seconds) title, string session, DateTimeOffset at, string device, string country, Action<AnalyticsEvent> add)
    {
        AnalyticsEvent E(string type, DateTimeOffset t) => new() { Type = type, Time = t, Session = session, Title = title.Id, Device = device, Country = country, Duration = title.Seconds };
        add(E(EventSchema.PlayRequest, at));
        if (random.NextDouble() < 0.015)
        {
            add(E(EventSchema.Error, at.AddSeconds(2)) with { Code = "MEDIA_ERR_NETWORK" });
            return at.AddMinutes(1);
        }

        var tts = Math.Exp(6.6 + 0.5 * Gaussian(random)) + (device == "tv" ? 500 : 0);
        var clock = at.AddMilliseconds(tts);
        add(E(EventSchema.FirstFrame, clock) with { Ms = Math.Round(tts) });
        // Drop-off: 45% finish; the rest leave early, most of them in the first minutes.
        var watched = random.NextDouble() < 0.45 ? title.Seconds * (0.93 + 0.07 * random.NextDouble()) : title.Seconds * Math.Min(0.89, -Math.Log(1 - random.NextDouble()) * 0.25);
        var bitrate = device == "tv" ? 6000 : 3000;
        var stallProne = random.NextDouble() < 0.2;
        for (var position = 60.0; position < watched; position += 60)
        {
            clock = clock.AddSeconds(60);
            if (stallProne && random.NextDouble() < 0.08)
            {
                var stall = 500 + random.NextDouble() * 3500;
                add(E(EventSchema.RebufferStart, clock));
                clock = clock.AddMilliseconds(stall);
                add(E(EventSchema.RebufferEnd, clock) with { Ms = Math.Round(stall) });
                bitrate = Math.Max(800, bitrate / 2);
                add(E(EventSchema.BitrateSwitch, clock) with { Bitrate = bitrate });
            }

            add(E(EventSchema.Heartbeat, clock) with { Position = position, Bitrate = bitrate });
        }

        clock = clock.AddSeconds(Math.Max(1, watched % 60));
        add(E(EventSchema.End, clock) with { Position = Math.Round(watched, 1) });
        return clock.AddMinutes(1);
    }

    private static string Pick(Random random, (string Value, double Weight)[] items)
    {
        var x = random.NextDouble();
        foreach (var (value, weight) in items)
        {
            if ((x -= weight) < 0)
            {
                return value;
            }
        }

        return items[^1].Value;
    }

    private static int Zipf(Random random, int n) => Math.Min(n - 1, (int)Math.Floor(Math.Pow(random.NextDouble(), 2.2) * n));

    private static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
