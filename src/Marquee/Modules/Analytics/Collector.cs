using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Marquee.Analytics.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Analytics;

/// <summary>What became of a batch: accepted, duplicates (counted once), quarantined with the reason per position.</summary>
internal sealed record IngestResult(int Accepted, int Duplicates, int Quarantined, IReadOnlyList<QuarantineNote> Refused);

internal sealed record QuarantineNote(int Index, string? Id, string Reason);

/// <summary>
/// The one way events come in (the beacon API, other modules' domain events, the simulator): validates each event against
/// <see cref="EventSchema"/>, refuses ones more than <see cref="MaxLateness"/> old into the quarantine, counts duplicate ids
/// once, and appends the rest to the raw table in one transaction before it answers.
/// </summary>
internal sealed class Collector(AnalyticsDb db, TimeProvider time, EtlSignal signal, LiveView live)
{
    public static readonly TimeSpan MaxLateness = TimeSpan.FromDays(7);
    public static readonly TimeSpan MaxAhead = TimeSpan.FromHours(1);
    public const int MaxBatch = 10_000;
    public const long MaxBodyBytes = 16 * 1024 * 1024;

    /// <summary>Reads a body of a JSON array or NDJSON (one object a line), gzip when <paramref name="gzip"/>. Null: not readable.</summary>
    public static async Task<(List<JsonNode?>? Items, string? Error)> ReadBodyAsync(Stream body, bool gzip, CancellationToken ct)
    {
        await using var source = gzip ? new GZipStream(body, CompressionMode.Decompress) : body;
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        try
        {
            int n;
            while ((n = await source.ReadAsync(chunk, ct)) > 0)
            {
                if (buffer.Length + n > MaxBodyBytes)
                {
                    return (null, $"The body is larger than {MaxBodyBytes / 1024 / 1024} MiB once decompressed.");
                }

                buffer.Write(chunk, 0, n);
            }
        }
        catch (InvalidDataException)
        {
            return (null, "The body is not valid gzip.");
        }

        var text = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length).Trim();
        if (text.Length == 0)
        {
            return (null, "The body is empty: send a JSON array of events or NDJSON (one event per line).");
        }

        var items = new List<JsonNode?>();
        if (text[0] == '[')
        {
            try
            {
                items.AddRange(JsonNode.Parse(text)!.AsArray().Select(n => n?.DeepClone()));
            }
            catch (JsonException ex)
            {
                return (null, $"The body is not a valid JSON array: {ex.Message}");
            }
        }
        else
        {
            foreach (var line in text.Split('\n'))
            {
                if (line.Trim().Length == 0)
                {
                    continue;
                }

                try
                {
                    items.Add(JsonNode.Parse(line));
                }
                catch (JsonException)
                {
                    items.Add(JsonValue.Create(line)); // kept, quarantined below as not an object
                }
            }
        }

        return items.Count > MaxBatch ? (null, $"At most {MaxBatch} events per request.") : (items, null);
    }

    /// <summary>Stores a batch. <paramref name="backfill"/> (the simulator's history only) lifts the 7-day limit.</summary>
    public async Task<IngestResult> IngestAsync(IReadOnlyList<JsonNode?> items, bool trusted, string? defaultCountry, string? defaultUser, bool backfill, CancellationToken ct)
    {
        var events = new List<AnalyticsEvent>(items.Count);
        var refused = new List<QuarantineNote>();
        var now = time.GetUtcNow();
        var quarantine = new List<QuarantinedEvent>();
        for (var i = 0; i < items.Count; i++)
        {
            var node = items[i];
            if (node is JsonObject o && defaultUser is not null && o["user"] is null)
            {
                o["user"] = defaultUser;
            }

            var (e, reason) = EventSchema.Parse(node);
            if (e is not null)
            {
                e = e with
                {
                    Type = e.Type.Trim(),
                    Time = e.Time.ToUniversalTime(),
                    Country = (e.Country ?? defaultCountry)?.ToUpperInvariant(),
                    Device = e.Device?.ToLowerInvariant(),
                    Status = e.Status?.ToLowerInvariant(),
                    Currency = e.Currency?.ToUpperInvariant(),
                };
                reason = EventSchema.Check(e, trusted);
                if (reason is null && !backfill && e.Time < now - MaxLateness)
                {
                    reason = "too late: more than 7 days old";
                }
                else if (reason is null && e.Time > now + MaxAhead)
                {
                    reason = "in the future: more than 1 hour ahead of the server's clock";
                }
            }

            if (reason is not null)
            {
                refused.Add(new QuarantineNote(i, e?.Id ?? (node as JsonObject)?["id"]?.ToString(), reason));
                quarantine.Add(new QuarantinedEvent
                {
                    Id = Guid.CreateVersion7(), EventId = EventSchema.Cut(e?.Id ?? (node as JsonObject)?["id"]?.ToString(), 100), Reason = EventSchema.Cut(reason, 300),
                    ReceivedAt = now, Payload = EventSchema.Cut(node?.ToJsonString() ?? "null", 4000),
                });
            }
            else
            {
                events.Add(e!);
            }
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var (accepted, duplicates) = await StoreAsync(events, quarantine, now, ct);
                if (accepted > 0)
                {
                    signal.Raise();
                    if (!backfill)
                    {
                        live.Observe(events);
                    }
                }

                return new IngestResult(accepted, duplicates, refused.Count, refused);
            }
            catch (DbUpdateException) when (attempt < 3)
            {
                db.ChangeTracker.Clear(); // another batch stored one of these ids at the same moment: look again
            }
        }
    }

    /// <summary>Quarantines a request that could not be read at all (its reason, the start of nothing: the body is not kept).</summary>
    public async Task QuarantineRequestAsync(string reason, CancellationToken ct)
    {
        db.Quarantine.Add(new QuarantinedEvent { Id = Guid.CreateVersion7(), Reason = EventSchema.Cut("request: " + reason, 300), ReceivedAt = time.GetUtcNow(), Payload = "" });
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
    }

    private async Task<(int Accepted, int Duplicates)> StoreAsync(List<AnalyticsEvent> events, List<QuarantinedEvent> quarantine, DateTimeOffset now, CancellationToken ct)
    {
        var fresh = new Dictionary<string, AnalyticsEvent>(StringComparer.Ordinal);
        var duplicates = 0;
        foreach (var e in events)
        {
            if (!fresh.TryAdd(e.Id, e))
            {
                duplicates++;
            }
        }

        foreach (var ids in fresh.Keys.Chunk(500))
        {
            var seen = await db.RawEvents.Where(r => ids.Contains(r.EventId)).Select(r => r.EventId).ToListAsync(ct);
            foreach (var id in seen)
            {
                fresh.Remove(id);
                duplicates++;
            }
        }

        foreach (var e in fresh.Values)
        {
            db.RawEvents.Add(new RawEvent
            {
                EventId = e.Id, Type = e.Type, ClientTime = e.Time, Day = EventSchema.DayOf(e.Time), ReceivedAt = now,
                Json = JsonSerializer.Serialize(e, AnalyticsEvent.Json),
            });
        }

        db.Quarantine.AddRange(quarantine);
        if (duplicates > 0)
        {
            var day = EventSchema.DayOf(now);
            var counter = await db.Counters.FindAsync([day, "duplicates"], ct);
            if (counter is null)
            {
                db.Counters.Add(new AnalyticsCounter { Day = day, Name = "duplicates", Value = duplicates });
            }
            else
            {
                counter.Value += duplicates;
            }
        }

        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return (fresh.Count, duplicates);
    }
}

/// <summary>Wakes the ETL worker when events were stored (it also runs on a timer).</summary>
internal sealed class EtlSignal
{
    private readonly SemaphoreSlim signal = new(0, 1);

    public void Raise()
    {
        if (signal.CurrentCount == 0)
        {
            try
            {
                signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // already raised
            }
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => signal.WaitAsync(timeout, ct);
}
