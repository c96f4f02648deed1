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
    private readonly Queue<(DateTimeOffset At, string Type, string? Session, double Ms)> recent = new();

    public void Observe(IEnumerable<AnalyticsEvent> events)
    {
        var now = time.GetUtcNow();
        lock (gate)
        {
            foreach (var e in events)
            {
                recent.Enqueue((now, e.Type, e.Session, e.Ms ?? 0));
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
            var sessions = new HashSet<string>(StringComparer.Ordinal);
            var ended = new HashSet<string>(StringComparer.Ordinal);
            int starts = 0, errors = 0;
            double stallMs = 0;
            foreach (var (_, type, session, ms) in recent)
            {
                switch (type)
                {
                    case EventSchema.FirstFrame: starts++; break;
                    case EventSchema.Error: errors++; break;
                    case EventSchema.RebufferEnd: stallMs += ms; break;
                }

                if (session is not null && type is EventSchema.FirstFrame or EventSchema.Heartbeat or EventSchema.RebufferStart or EventSchema.RebufferEnd or EventSchema.BitrateSwitch)
                {
                    sessions.Add(session);
                }

                if (session is not null && type is EventSchema.End or EventSchema.Error)
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
        while (recent.Count > 0 && (recent.Peek().At < now - Window || recent.Count > 200_000))
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
