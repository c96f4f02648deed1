using System.Buffers;
using System.Text.Json;

namespace Marquee.Analytics;

/// <summary>
/// A growable byte buffer rented from <see cref="ArrayPool{T}.Shared"/> (a request body, a batch's spool lines): no new
/// large array per request, which would land in the large object heap and drive full collections at high rates.
/// Dispose gives the array back; nothing may use <see cref="Written"/> after that.
/// </summary>
internal sealed class PooledBuffer(int initial = 64 * 1024) : IBufferWriter<byte>, IDisposable
{
    private byte[] array = ArrayPool<byte>.Shared.Rent(initial);

    public int Length { get; private set; }

    public ReadOnlyMemory<byte> Written => array.AsMemory(0, Length);

    /// <summary>At least <paramref name="size"/> free bytes after the written ones.</summary>
    public Memory<byte> Free(int size)
    {
        if (array.Length - Length < size)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(array.Length * 2, Length + size));
            array.AsSpan(0, Length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(array);
            array = bigger;
        }

        return array.AsMemory(Length);
    }

    public void Advance(int count) => Length += count;

    public Memory<byte> GetMemory(int sizeHint = 0) => Free(Math.Max(sizeHint, 256));

    public Span<byte> GetSpan(int sizeHint = 0) => Free(Math.Max(sizeHint, 256)).Span;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Free(bytes.Length).Span);
        Length += bytes.Length;
    }

    public void Dispose()
    {
        var a = array;
        array = [];
        Length = 0;
        if (a.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(a);
        }
    }
}

/// <summary>
/// A batch's accepted events as the spool stores them, one NDJSON line each, with their ids (the spool writer skips the
/// ids it saw recently). A line is the event's bytes as sent when they are copyable (<see cref="EventSchema.Parse(ReadOnlySpan{byte}, out int)"/>
/// and no normalisation changed the event), else the event written by the source-generated serializer, as before.
/// Built by the request (in parallel), copied by the one writer.
/// </summary>
internal sealed class SpoolLines(int capacity) : IDisposable
{
    private readonly PooledBuffer bytes = new(Math.Max(1024, capacity * 200));
    private readonly List<string> ids = new(capacity);
    private readonly List<int> ends = new(capacity);
    private Utf8JsonWriter? writer;

    public int Count => ids.Count;

    public string Id(int i) => ids[i];

    public ReadOnlySpan<byte> Line(int i)
    {
        var start = i == 0 ? 0 : ends[i - 1];
        return bytes.Written.Span[start..ends[i]];
    }

    public void Add(AnalyticsEvent e, ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty)
        {
            writer ??= new Utf8JsonWriter(bytes, new JsonWriterOptions { SkipValidation = true });
            writer.Reset(bytes);
            JsonSerializer.Serialize(writer, e, AnalyticsJson.Default.AnalyticsEvent);
            writer.Flush();
        }
        else
        {
            bytes.Write(json);
        }

        ids.Add(e.Id);
        ends.Add(bytes.Length);
    }

    public static SpoolLines Of(IReadOnlyList<AnalyticsEvent> events)
    {
        var lines = new SpoolLines(events.Count);
        foreach (var e in events)
        {
            lines.Add(e, default);
        }

        return lines;
    }

    public void Dispose()
    {
        writer?.Dispose();
        bytes.Dispose();
    }
}
