using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Marquee.Analytics.Data;

namespace Marquee.Analytics;

/// <summary>What became of a batch: accepted, duplicates (counted once), quarantined with the reason per position.</summary>
internal sealed record IngestResult(int Accepted, int Duplicates, int Quarantined, IReadOnlyList<QuarantineNote> Refused);

internal sealed record QuarantineNote(int Index, string? Id, string Reason);

/// <summary>
/// One item of a request body: the event read from it, or why it could not be read; its text as sent (for the quarantine).
/// <paramref name="Json"/>: the event's bytes as sent when they can go to the spool as they are (see <see cref="EventSchema.Parse(ReadOnlySpan{byte}, out int)"/>);
/// they point into the request's body buffer, which lives until the batch is stored.
/// </summary>
internal sealed record Incoming(AnalyticsEvent? Event, string? Reason, string Raw, ReadOnlyMemory<byte> Json = default)
{
    public static Incoming Of(AnalyticsEvent e) => new(e, null, "");
}

/// <summary>
/// The one way events come in (the beacon API, other modules' domain events, the simulator): validates each event against
/// <see cref="EventSchema"/> while the body is read (no document tree), refuses ones more than <see cref="MaxLateness"/> old
/// into the quarantine (<see cref="QuarantineStore"/>, first: a busy store refuses the whole batch), and hands the rest to the
/// <see cref="EventSpool"/>, which appends them with the other requests of the moment as one record and answers only once
/// it is fsynced (an accepted event is never lost).
/// </summary>
internal sealed class Collector(EventSpool spool, QuarantineStore quarantineStore, TimeProvider time, EtlSignal signal, LiveView live)
{
    public static readonly TimeSpan MaxLateness = TimeSpan.FromDays(7);
    public static readonly TimeSpan MaxAhead = TimeSpan.FromHours(1);
    public const int MaxBatch = 10_000;
    public const long MaxBodyBytes = 16 * 1024 * 1024;

    /// <summary>Reads a body of a JSON array or NDJSON (one object a line), gzip when <paramref name="gzip"/>. Null: not readable.</summary>
    public static Task<(List<Incoming>? Items, string? Error)> ReadBodyAsync(Stream body, bool gzip, CancellationToken ct) =>
        ReadBodyAsync(body, gzip, new PooledBuffer(), ct); // not given back to the pool: the items point into it

    /// <summary>
    /// As above, the body read into <paramref name="buffer"/> (pooled: no large array per request). The items' bytes point
    /// into it: the caller disposes it once the batch is stored.
    /// </summary>
    public static async Task<(List<Incoming>? Items, string? Error)> ReadBodyAsync(Stream body, bool gzip, PooledBuffer buffer, CancellationToken ct)
    {
        await using var source = gzip ? new GZipStream(body, CompressionMode.Decompress) : body;
        try
        {
            int n;
            while ((n = await source.ReadAsync(buffer.Free(16 * 1024), ct)) > 0)
            {
                if (buffer.Length + n > MaxBodyBytes)
                {
                    return (null, $"The body is larger than {MaxBodyBytes / 1024 / 1024} MiB once decompressed.");
                }

                buffer.Advance(n);
            }
        }
        catch (InvalidDataException)
        {
            return (null, "The body is not valid gzip.");
        }

        return Read(buffer.Written);
    }

    private static (List<Incoming>? Items, string? Error) Read(ReadOnlyMemory<byte> memory)
    {
        var bytes = memory.Span;
        var start = 0;
        while (start < bytes.Length && IsSpace(bytes[start]))
        {
            start++;
        }

        if (start == bytes.Length)
        {
            return (null, "The body is empty: send a JSON array of events or NDJSON (one event per line).");
        }

        var items = new List<Incoming>();
        if (bytes[start] == (byte)'[')
        {
            try
            {
                using var document = JsonDocument.Parse(memory[start..]);
                if (document.RootElement.ValueKind != JsonValueKind.Array)
                {
                    return (null, "The body is not a valid JSON array.");
                }

                if (document.RootElement.GetArrayLength() > MaxBatch)
                {
                    return (null, $"At most {MaxBatch} events per request.");
                }

                foreach (var element in document.RootElement.EnumerateArray())
                {
                    // The element's bytes are a slice of the body (the document reads it in place): the same bytes as memory.
                    var raw = JsonMarshal.GetRawUtf8Value(element);
                    items.Add(Item(memory.Span.Overlaps(raw, out var offset) && offset + raw.Length <= memory.Length ? memory.Slice(offset, raw.Length) : raw.ToArray()));
                }
            }
            catch (JsonException ex)
            {
                return (null, $"The body is not a valid JSON array: {ex.Message}");
            }

            return (items, null);
        }

        // NDJSON: each line on its own, straight from the bytes into the event record.
        while (start < bytes.Length)
        {
            var end = bytes[start..].IndexOf((byte)'\n');
            var line = end < 0 ? memory[start..] : memory.Slice(start, end);
            start = end < 0 ? bytes.Length : start + end + 1;
            if (line.Span.Trim(" \t\r"u8).IsEmpty)
            {
                continue;
            }

            if (items.Count == MaxBatch)
            {
                return (null, $"At most {MaxBatch} events per request.");
            }

            items.Add(Item(line));
        }

        return items.Count == 0 ? (null, "The body is empty: send a JSON array of events or NDJSON (one event per line).") : (items, null);
    }

    private static Incoming Item(ReadOnlyMemory<byte> utf8)
    {
        var span = utf8.Span;
        var (e, reason) = EventSchema.Parse(span, out var canonical);
        if (e is null)
        {
            return new Incoming(e, reason, Encoding.UTF8.GetString(span[..Math.Min(span.Length, 4000)]));
        }

        var start = span.IndexOf((byte)'{');
        return new Incoming(e, reason, "", canonical > 0 ? utf8.Slice(start, canonical) : default);
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';

    /// <summary>Stores events made by the server (domain feed, simulator).</summary>
    public Task<IngestResult> IngestAsync(IReadOnlyList<AnalyticsEvent> events, bool backfill, CancellationToken ct) =>
        IngestAsync([.. events.Select(Incoming.Of)], trusted: true, defaultCountry: null, defaultUser: null, backfill, ct);

    /// <summary>
    /// Stores a batch once it is committed. <paramref name="backfill"/> (the simulator's history only) lifts the 7-day limit.
    /// Throws <see cref="StoreBusyException"/> when the store cannot take it now (nothing of the batch is stored then).
    /// </summary>
    public async Task<IngestResult> IngestAsync(IReadOnlyList<Incoming> items, bool trusted, string? defaultCountry, string? defaultUser, bool backfill, CancellationToken ct)
    {
        var events = new List<AnalyticsEvent>(items.Count);
        using var lines = new SpoolLines(items.Count);
        var refused = new List<QuarantineNote>();
        var now = time.GetUtcNow();
        var quarantine = new List<QuarantinedEvent>();
        for (var i = 0; i < items.Count; i++)
        {
            var (e, reason, raw, json) = items[i];
            if (e is not null)
            {
                // Missing required members come out null from the reader (not the initialisers' "").
                var id = e.Id ?? "";
                var type = (e.Type ?? "").Trim();
                var at = e.Time.ToUniversalTime();
                var user = string.IsNullOrEmpty(e.User) && defaultUser is not null ? defaultUser : e.User;
                var country = (e.Country ?? defaultCountry)?.ToUpperInvariant();
                var device = e.Device?.ToLowerInvariant();
                var status = e.Status?.ToLowerInvariant();
                var currency = e.Currency?.ToUpperInvariant();

                // The case and trim changes return the same string when there is nothing to change: then the event is as
                // sent, and its bytes (when copyable) go to the spool as they are instead of being written again.
                var same = ReferenceEquals(id, e.Id) && ReferenceEquals(type, e.Type) && at.Offset == e.Time.Offset && ReferenceEquals(user, e.User)
                    && ReferenceEquals(country, e.Country) && ReferenceEquals(device, e.Device) && ReferenceEquals(status, e.Status) && ReferenceEquals(currency, e.Currency);
                if (!same)
                {
                    e = e with { Id = id, Type = type, Time = at, User = user, Country = country, Device = device, Status = status, Currency = currency };
                    json = default;
                }

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
                var id = e?.Id ?? IdOf(raw);
                refused.Add(new QuarantineNote(i, id, reason));
                quarantine.Add(new QuarantinedEvent
                {
                    Id = Guid.CreateVersion7(), EventId = EventSchema.Cut(id, 100), Reason = EventSchema.Cut(reason, 300), ReceivedAt = now,
                    Payload = EventSchema.Cut(e is null ? raw : JsonSerializer.Serialize(e, AnalyticsJson.Default.AnalyticsEvent), 4000),
                });
            }
            else
            {
                events.Add(e!);
                lines.Add(e!, json.Span);
            }
        }

        await quarantineStore.WriteAsync(quarantine, ct);
        var (accepted, duplicates) = await spool.AppendAsync(lines, now, ct);
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

    /// <summary>The "id" of an item that is not an event of the schema, when it has one.</summary>
    private static string? IdOf(string raw)
    {
        try
        {
            using var d = JsonDocument.Parse(raw);
            return d.RootElement.ValueKind == JsonValueKind.Object && d.RootElement.TryGetProperty("id", out var id)
                ? id.ValueKind == JsonValueKind.String ? id.GetString() : id.GetRawText()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Quarantines a request that could not be read at all (its reason; the body is not kept).</summary>
    public Task QuarantineRequestAsync(string reason, CancellationToken ct) =>
        quarantineStore.WriteAsync([new QuarantinedEvent { Id = Guid.CreateVersion7(), Reason = EventSchema.Cut("request: " + reason, 300), ReceivedAt = time.GetUtcNow(), Payload = "" }], ct);
}

/// <summary>The store cannot take a batch now (the ingest queue is full, or the database is busy): answer 503 with Retry-After.</summary>
internal sealed class StoreBusyException(string message, Exception? inner = null) : Exception(message, inner);

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
