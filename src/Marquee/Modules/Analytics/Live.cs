using Microsoft.AspNetCore.SignalR;

namespace Marquee.Analytics;

/// <summary>The real-time figures of the last minute (by server receive time).</summary>
internal sealed record LiveSnapshot(DateTimeOffset At, int ConcurrentViewers, int StartsPerMinute, double RebufferingRatio, int Errors, long EventsPerMinute);

/// <summary>
/// The live view: fed by the collector with each accepted client event, it keeps the last minute in memory (of this web
/// process; it starts empty after a restart) and answers concurrent viewers, starts per minute, rebuffering ratio, errors.
/// </summary>
internal sealed class LiveView(TimeProvider time)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly Lock gate = new();
    // Entries hold no references (the session as a 64-bit hash, the type as a kind): a minute of events (up to 200,000)
    // kept here would otherwise keep their strings alive into the oldest generation and make the collector trace them.
    private readonly Queue<(long At, Kind Type, ulong Session, double Ms)> recent = new();

    private enum Kind : byte { Other, FirstFrame, Heartbeat, RebufferStart, RebufferEnd, BitrateSwitch, Error, End }

    private static Kind KindOf(string type) => type switch
    {
        EventSchema.FirstFrame => Kind.FirstFrame,
        EventSchema.Heartbeat => Kind.Heartbeat,
        EventSchema.RebufferStart => Kind.RebufferStart,
        EventSchema.RebufferEnd => Kind.RebufferEnd,
        EventSchema.BitrateSwitch => Kind.BitrateSwitch,
        EventSchema.Error => Kind.Error,
        EventSchema.End => Kind.End,
        _ => Kind.Other,
    };

    /// <summary>0 for no session; else the session id's 64-bit hash (a collision merges two sessions in the count: 1 in 2^64 per pair).</summary>
    private static ulong SessionKey(string? session) =>
        session is null ? 0 : System.IO.Hashing.XxHash3.HashToUInt64(System.Runtime.InteropServices.MemoryMarshal.AsBytes(session.AsSpan())) | 1;

    public void Observe(IEnumerable<AnalyticsEvent> events)
    {
        var now = time.GetUtcNow();
        lock (gate)
        {
            foreach (var e in events)
            {
                recent.Enqueue((now.UtcTicks, KindOf(e.Type), SessionKey(e.Session), e.Ms ?? 0));
            }

            Trim(now);
        }
    }

    public LiveSnapshot Snapshot()
    {
        var now = time.GetUtcNow();
        lock (gate)
        {
            Trim(now);
            var sessions = new HashSet<ulong>();
            var ended = new HashSet<ulong>();
            int starts = 0, errors = 0;
            double stallMs = 0;
            foreach (var (_, type, session, ms) in recent)
            {
                switch (type)
                {
                    case Kind.FirstFrame: starts++; break;
                    case Kind.Error: errors++; break;
                    case Kind.RebufferEnd: stallMs += ms; break;
                }

                if (session != 0 && type is Kind.FirstFrame or Kind.Heartbeat or Kind.RebufferStart or Kind.RebufferEnd or Kind.BitrateSwitch)
                {
                    sessions.Add(session);
                }

                if (session != 0 && type is Kind.End or Kind.Error)
                {
                    ended.Add(session);
                }
            }

            sessions.ExceptWith(ended);
            var watchedMs = Math.Max(sessions.Count, 1) * Window.TotalMilliseconds;
            return new LiveSnapshot(now, sessions.Count, starts, stallMs == 0 ? 0 : stallMs / (watchedMs + stallMs), errors, recent.Count);
        }
    }

    private void Trim(DateTimeOffset now)
    {
        while (recent.Count > 0 && (recent.Peek().At < (now - Window).UtcTicks || recent.Count > 200_000))
        {
            recent.Dequeue();
        }
    }
}

/// <summary>The console's live view: the server pushes <c>live</c> with a <see cref="LiveSnapshot"/> every few seconds.</summary>
internal sealed class LiveHub(LiveView live) : Hub
{
    /// <summary>The figures now (the page asks once on connecting, then receives pushes).</summary>
    public LiveSnapshot Now() => live.Snapshot();
}

internal sealed class LivePusher(IHubContext<LiveHub> hub, LiveView live) : BackgroundService
{
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await hub.Clients.All.SendAsync("live", live.Snapshot(), stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }
}
