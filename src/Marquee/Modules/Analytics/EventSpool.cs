using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text.Json;
using System.Threading.Channels;
using Marquee.Platform;
using Microsoft.Extensions.Options;

namespace Marquee.Analytics;

/// <summary>
/// The durable landing place of accepted events: an append-only spool of segment files in the data folder
/// (<c>&lt;DataDir&gt;/analytics/spool/&lt;writer&gt;/&lt;first record&gt;.seg</c>). Requests put their validated events on a
/// bounded channel and wait; one writer per process takes everything waiting (group commit), appends it as ONE record
/// (a header, the events as NDJSON, a CRC-32) and fsyncs the file, and only then completes the requests: an acknowledged
/// event is on disk. Each process start writes a directory of its own (the writer holds its <c>writer.lock</c>), so a
/// crashed writer's directory is simply read to its last whole record by the pipeline and then removed; a torn tail (a
/// record cut by the crash, never acknowledged) fails its CRC and is ignored.
/// <para>Duplicates: ids seen by this writer recently (<see cref="AnalyticsOptions.RecentIds"/>) are answered as
/// duplicates at once and only counted (the count travels in the record); every other duplicate (an id sent to another
/// node, before a restart, or long ago) is removed set-wise when the pipeline loads the record into the warehouse.</para>
/// A full channel or a spool that cannot be written (disk full) fails the requests with <see cref="StoreBusyException"/>
/// (503 with Retry-After; nothing of those batches is acknowledged).
/// </summary>
internal sealed class EventSpool : IAsyncDisposable
{
    public const int HeaderBytes = 40;
    public const string LockName = "writer.lock";
    private const int GroupEvents = 20_000;
    private static ReadOnlySpan<byte> Magic => "MQS1"u8;

    private readonly Channel<Pending> channel;
    private readonly AnalyticsOptions options;
    private readonly ILogger<EventSpool> log;
    private readonly Lock startLock = new();
    private readonly HashSet<string> recent = new(StringComparer.Ordinal);
    private readonly Queue<string> recentOrder = new();
    private Task? loop;
    private FileStream? lockFile;
    private FileStream? segment;
    private long nextRecord = 1;
    private long eventsWritten;
    private volatile string? directory;

    public EventSpool(IOptions<MarqueeOptions> marquee, IOptions<AnalyticsOptions> options, ILogger<EventSpool> log)
    {
        Root = RootIn(marquee.Value.FullDataDir);
        this.options = options.Value;
        this.log = log;
        channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(1, this.options.IngestQueue))
        {
            SingleReader = true, FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public static string RootIn(string dataDir) => Path.Combine(dataDir, "analytics", "spool");

    /// <summary>The folder holding every writer's directory.</summary>
    public string Root { get; }

    /// <summary>This process's writer directory (null until it wrote its first record).</summary>
    public string? OwnDirectory => directory;

    /// <summary>Events this process's writer has made durable.</summary>
    public long EventsWritten => Interlocked.Read(ref eventsWritten);

    private sealed record Pending(SpoolLines? Events, DateTimeOffset Now)
    {
        public TaskCompletionSource<(int Accepted, int Duplicates)> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Appends the events durably; completes after the fsync with how many were new and how many known duplicates.</summary>
    public async Task<(int Accepted, int Duplicates)> AppendAsync(List<AnalyticsEvent> events, DateTimeOffset now, CancellationToken ct) =>
        await AppendAsync(SpoolLines.Of(events), now, ct);

    /// <summary>
    /// As above, the events already as spool lines. The spool owns <paramref name="lines"/> from here: the writer gives
    /// their buffer back once it has copied them (not the caller, whose request may be cancelled while they wait).
    /// </summary>
    public async Task<(int Accepted, int Duplicates)> AppendAsync(SpoolLines lines, DateTimeOffset now, CancellationToken ct)
    {
        if (lines.Count == 0)
        {
            lines.Dispose();
            return (0, 0);
        }

        return await EnqueueAsync(new Pending(lines, now), ct);
    }

    /// <summary>Closes the current segment and starts a new one, so that the closed one can be removed once loaded (an erasure).</summary>
    public async Task RollAsync(CancellationToken ct)
    {
        if (directory is not null)
        {
            await EnqueueAsync(new Pending(null, default), ct);
        }
    }

    private async Task<(int Accepted, int Duplicates)> EnqueueAsync(Pending pending, CancellationToken ct)
    {
        EnsureStarted();
        if (!channel.Writer.TryWrite(pending))
        {
            pending.Events?.Dispose();
            throw new StoreBusyException("The analytics ingest queue is full.");
        }

        // Not cancelled with the request: once queued the batch is stored (or not) as a whole; the answer just waits for it.
        return await pending.Done.Task.WaitAsync(ct);
    }

    private void EnsureStarted()
    {
        if (loop is not null)
        {
            return;
        }

        lock (startLock)
        {
            loop ??= Task.Run(RunAsync);
        }
    }

    private async Task RunAsync()
    {
        var group = new List<Pending>();
        var buffer = new ArrayBufferWriter<byte>(1 << 22);
        var added = new List<string>();
        while (await channel.Reader.WaitToReadAsync())
        {
            group.Clear();
            var taken = 0;
            while (taken < GroupEvents && channel.Reader.TryRead(out var p))
            {
                group.Add(p);
                taken += p.Events?.Count ?? 0;
            }

            var results = new (int Accepted, int Duplicates)[group.Count];
            var count = 0;
            var duplicates = 0;
            var roll = false;
            DateTimeOffset received = default;
            buffer.Clear();
            added.Clear();
            long start = -1;
            try
            {
                for (var i = 0; i < group.Count; i++)
                {
                    var p = group[i];
                    if (p.Events is null)
                    {
                        roll = true;
                        continue;
                    }

                    received = p.Now > received ? p.Now : received;
                    var accepted = 0;
                    var lines = p.Events;
                    for (var k = 0; k < lines.Count; k++)
                    {
                        var id = lines.Id(k);
                        if (!recent.Add(id))
                        {
                            continue;
                        }

                        added.Add(id);
                        var line = lines.Line(k);
                        var to = buffer.GetSpan(line.Length + 1);
                        line.CopyTo(to);
                        to[line.Length] = (byte)'\n';
                        buffer.Advance(line.Length + 1);
                        accepted++;
                    }

                    results[i] = (accepted, p.Events.Count - accepted);
                    count += accepted;
                    duplicates += p.Events.Count - accepted;
                }

                if (count > 0 || duplicates > 0)
                {
                    if (segment is null && directory is not null)
                    {
                        NewSegment();
                    }

                    Open();
                    start = segment!.Length;
                    Write(segment, buffer.WrittenSpan, count, duplicates, received);
                    start = -1;
                }

                foreach (var id in added)
                {
                    recentOrder.Enqueue(id);
                }

                while (recentOrder.Count > Math.Max(0, options.RecentIds))
                {
                    recent.Remove(recentOrder.Dequeue());
                }

                // An empty segment is never rolled (its successor would have the same name: nothing was written since).
                if (segment is not null && segment.Length > 0 && (roll || segment.Length >= Math.Max(1, options.SpoolSegmentMegabytes) * 1024L * 1024))
                {
                    NewSegment();
                }

                for (var i = 0; i < group.Count; i++)
                {
                    group[i].Events?.Dispose(); // copied into the record: the buffer goes back to the pool
                    group[i].Done.TrySetResult(results[i]);
                }
            }
            catch (Exception ex)
            {
                foreach (var id in added)
                {
                    recent.Remove(id);
                }

                foreach (var p in group)
                {
                    p.Events?.Dispose();
                }

                if (start >= 0)
                {
                    try
                    {
                        segment!.SetLength(start); // a record half written is not acknowledged; its tail would fail the CRC anyway
                    }
                    catch (IOException)
                    {
                    }
                }

                SpoolLog.Failed(log, ex);
                Exception answer = ex is IOException or UnauthorizedAccessException ? new StoreBusyException("The analytics spool cannot be written now.", ex) : ex;
                foreach (var p in group)
                {
                    p.Done.TrySetException(answer);
                }
            }
        }
    }

    private void Write(FileStream file, ReadOnlySpan<byte> payload, int count, int duplicates, DateTimeOffset received)
    {
        Span<byte> header = stackalloc byte[HeaderBytes];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], payload.Length);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], nextRecord);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], eventsWritten);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], count);
        BinaryPrimitives.WriteInt32LittleEndian(header[28..], duplicates);
        BinaryPrimitives.WriteInt64LittleEndian(header[32..], received.UtcTicks);
        var crc = new Crc32();
        crc.Append(header);
        crc.Append(payload);
        Span<byte> sum = stackalloc byte[4];
        crc.GetCurrentHash(sum);
        file.Write(header);
        file.Write(payload);
        file.Write(sum);
        file.Flush(flushToDisk: true); // fsync: only now is the record acknowledged
        nextRecord++;
        Interlocked.Add(ref eventsWritten, count);
    }

    private void Open()
    {
        if (segment is not null)
        {
            return;
        }

        // Made under a temporary name with its lock taken, then renamed: a pipeline never sees a directory without its lock.
        var name = Guid.CreateVersion7().ToString("N");
        var staging = Path.Combine(Root, name + ".new");
        Directory.CreateDirectory(staging);
        lockFile = new FileStream(Path.Combine(staging, LockName), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        var dir = Path.Combine(Root, name);
        Directory.Move(staging, dir);
        directory = dir;
        NewSegment();
    }

    private void NewSegment()
    {
        segment?.Dispose();
        segment = null; // if the new file cannot be made, the next write tries again instead of using a closed one
        segment = new FileStream(Path.Combine(directory!, SegmentName(nextRecord)), FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete, 1);
    }

    public static string SegmentName(long firstRecord) => $"{firstRecord:D12}.seg";

    private static long FirstRecordOf(string segmentPath) => long.Parse(Path.GetFileNameWithoutExtension(segmentPath), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The writer directories under the root, oldest first.</summary>
    public IReadOnlyList<string> Directories() =>
        Directory.Exists(Root) ? [.. Directory.GetDirectories(Root).Where(d => !Path.GetFileName(d).Contains('.', StringComparison.Ordinal)).Order(StringComparer.Ordinal)] : [];

    /// <summary>Whether a writer still appends to the directory (this process's, or another's holding its lock).</summary>
    public bool IsLive(string dir)
    {
        if (string.Equals(dir, directory, StringComparison.Ordinal))
        {
            return true;
        }

        try
        {
            using var probe = new FileStream(Path.Combine(dir, LockName), FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static string[] Segments(string dir) => [.. Directory.GetFiles(dir, "*.seg").Order(StringComparer.Ordinal)];

    /// <summary>Where a reader stopped: the segment and offset of the next record and its number.</summary>
    public sealed record Cursor(string Segment, long Offset, long NextRecord);

    /// <summary>One whole record: its number, its events as NDJSON, the duplicates counted when it was written.</summary>
    public sealed record SpoolRecord(long Number, long EventsBefore, int Count, int Duplicates, DateTimeOffset ReceivedAt, byte[] Payload);

    /// <summary>
    /// The whole records after <paramref name="afterRecord"/>, until about <paramref name="maxEvents"/> events; stops at the
    /// end of the written records or at the first torn one. <paramref name="hint"/> (the last call's cursor) saves re-reading.
    /// </summary>
    public static (List<SpoolRecord> Records, Cursor? Cursor) Read(string dir, long afterRecord, int maxEvents, Cursor? hint)
    {
        var records = new List<SpoolRecord>();
        var segments = Segments(dir);
        if (segments.Length == 0)
        {
            return (records, hint);
        }

        int index;
        long offset = 0;
        if (hint is not null && hint.NextRecord == afterRecord + 1 && Array.IndexOf(segments, hint.Segment) is var at and >= 0)
        {
            index = at;
            offset = hint.Offset;
        }
        else
        {
            index = 0;
            for (var i = 0; i < segments.Length; i++)
            {
                if (FirstRecordOf(segments[i]) <= afterRecord + 1)
                {
                    index = i;
                }
            }
        }

        var events = 0;
        Cursor? cursor = hint;
        var header = new byte[HeaderBytes];
        Span<byte> sum = stackalloc byte[4];
        Span<byte> stored = stackalloc byte[4];
        for (; index < segments.Length && events < maxEvents; index++, offset = 0)
        {
            FileStream file;
            try
            {
                file = new FileStream(segments[index], FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
            }
            catch (FileNotFoundException)
            {
                continue;
            }

            using (file)
            {
                file.Position = offset;
                while (events < maxEvents)
                {
                    if (file.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false) < HeaderBytes || !header.AsSpan(0, 4).SequenceEqual(Magic))
                    {
                        break;
                    }

                    var length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4));
                    if (length < 0 || length > file.Length - file.Position - 4)
                    {
                        break;
                    }

                    // The payload read into an array of its own size (the record keeps it: no second copy), then its CRC.
                    var body = new byte[length];
                    if (file.ReadAtLeast(body, length, throwOnEndOfStream: false) < length || file.ReadAtLeast(stored, 4, throwOnEndOfStream: false) < 4)
                    {
                        break;
                    }

                    var crc = new Crc32();
                    crc.Append(header);
                    crc.Append(body);
                    crc.GetCurrentHash(sum);
                    if (!sum.SequenceEqual(stored))
                    {
                        break; // torn: a crash cut this record before it was acknowledged
                    }

                    var number = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
                    cursor = new Cursor(segments[index], file.Position, number + 1);
                    if (number <= afterRecord)
                    {
                        continue;
                    }

                    var count = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(24));
                    records.Add(new SpoolRecord(number, BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(16)), count,
                        BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(28)),
                        new DateTimeOffset(BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(32)), TimeSpan.Zero), body));
                    events += count;
                }
            }
        }

        return (records, cursor);
    }

    /// <summary>Events in the directory's whole records (its writer's total): from its last record.</summary>
    public long EventsIn(string dir)
    {
        if (string.Equals(dir, directory, StringComparison.Ordinal))
        {
            return EventsWritten;
        }

        var segments = Segments(dir);
        for (var i = segments.Length - 1; i >= 0; i--)
        {
            var (records, _) = Read(dir, FirstRecordOf(segments[i]) - 1, int.MaxValue, new Cursor(segments[i], 0, FirstRecordOf(segments[i])));
            if (records.Count > 0)
            {
                return records[^1].EventsBefore + records[^1].Count;
            }
        }

        return 0;
    }

    /// <summary>Removes the segments whose records are all loaded (never the newest one, which its writer may still append to).</summary>
    public static void DeleteLoaded(string dir, long loadedThrough)
    {
        var segments = Segments(dir);
        for (var i = 0; i + 1 < segments.Length; i++)
        {
            if (FirstRecordOf(segments[i + 1]) - 1 <= loadedThrough)
            {
                File.Delete(segments[i]);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        channel.Writer.TryComplete();
        if (loop is not null)
        {
            await loop; // what was queued is written (or failed) before the process ends
        }

        segment?.Dispose();
        lockFile?.Dispose();
    }
}

internal static partial class SpoolLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "Analytics spool write failed; the requests were answered with the error.")]
    public static partial void Failed(ILogger logger, Exception exception);
}
