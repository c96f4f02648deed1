using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Marquee.Delivery;

/// <summary>
/// The hot path of playback requests (manifests, keys, segments): checks the token, then answers from a short-lived
/// in-memory copy of the live session instead of reading its row on every request. A miss reads the row through
/// <see cref="Sessions"/> (scoped, resolved only then). Sessions ended in this process (viewer, operator revoke,
/// heartbeat timeout, sweeper) are remembered as ended here at once, so their URLs answer 403 from the next request
/// on; sessions ended by another process are seen when the cached copy expires
/// (<see cref="DeliveryOptions.SessionCacheLifetime"/>), and a cached copy is never used past the session's idle deadline.
/// </summary>
internal sealed class LiveSessions(PlaybackTokens tokens, IOptions<DeliveryOptions> options, TimeProvider time)
{
    private const int MaxEntries = 50_000;
    private readonly ConcurrentDictionary<Guid, Entry> entries = new();

    /// <summary>The live session a token names (signature, expiry and liveness checked); null otherwise.</summary>
    /// <param name="requestServices">Where to resolve <see cref="Sessions"/> from on a miss (the request's scope).</param>
    public async ValueTask<LiveSession?> AuthorizeAsync(string token, IServiceProvider requestServices, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (tokens.Read(token) is not { } read || read.ExpiresAt < now)
        {
            return null;
        }

        if (entries.TryGetValue(read.SessionId, out var entry))
        {
            if (entry.Session is null)
            {
                return null; // ended (in this process): final
            }

            if (now < entry.FreshUntil && now <= entry.IdleDeadline)
            {
                return entry.Session;
            }
        }

        var found = await requestServices.GetRequiredService<Sessions>().FindLiveAsync(read.SessionId, cancellationToken);
        if (found is { } live)
        {
            Remember(live.Session, live.IdleDeadline, now);
            return live.Session;
        }

        return null;
    }

    /// <summary>The session ended (or was found ended): its URLs are refused from now on, whatever a racing read caches.</summary>
    public void Ended(Guid sessionId) => entries[sessionId] = Entry.EndedMark;

    /// <summary>The session's idle deadline moved (heartbeat): the next request reads it again.</summary>
    public void Changed(Guid sessionId)
    {
        if (entries.TryGetValue(sessionId, out var entry) && entry.Session is not null)
        {
            entries.TryRemove(new KeyValuePair<Guid, Entry>(sessionId, entry));
        }
    }

    private void Remember(LiveSession session, DateTimeOffset idleDeadline, DateTimeOffset now)
    {
        var lifetime = options.Value.SessionCacheLifetime;
        if (lifetime <= TimeSpan.Zero)
        {
            return;
        }

        if (entries.Count >= MaxEntries)
        {
            Prune(now);
        }

        var fresh = new Entry(session, idleDeadline, now + lifetime);
        // An ended mark is final: a read that raced with the end must not bring the session back.
        entries.AddOrUpdate(session.Id, fresh, (_, existing) => existing.Session is null ? existing : fresh);
    }

    private void Prune(DateTimeOffset now)
    {
        foreach (var (id, entry) in entries)
        {
            if (entry.Session is not null && (now >= entry.FreshUntil || now > entry.IdleDeadline))
            {
                entries.TryRemove(new KeyValuePair<Guid, Entry>(id, entry));
            }
        }

        if (entries.Count >= MaxEntries)
        {
            // Still full (mostly ended marks): forget everything; misses read the database, which is always right.
            entries.Clear();
        }
    }

    /// <param name="Session">Null: the session has ended.</param>
    private sealed record Entry(LiveSession? Session, DateTimeOffset IdleDeadline, DateTimeOffset FreshUntil)
    {
        public static readonly Entry EndedMark = new(null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue);
    }
}
