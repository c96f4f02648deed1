using System.Buffers.Binary;
using System.Text;
using Marquee.Analytics;
using Marquee.Platform;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Marquee.Tests.Analytics;

/// <summary>The spool's replay, in process: what a restarted pipeline reads after the writer's process died mid-write.</summary>
[Trait("Category", "ProviderFree")] // files only, no database
public sealed class EventSpoolTests : IDisposable
{
    private readonly string dataDir = Path.Combine(Path.GetTempPath(), "marquee-spool-" + Guid.NewGuid().ToString("N"));

    private EventSpool NewSpool() =>
        new(Options.Create(new MarqueeOptions { DataDir = dataDir }), Options.Create(new AnalyticsOptions()), NullLogger<EventSpool>.Instance);

    private static AnalyticsEvent Heartbeat(string id) => new()
    {
        Id = id, Type = "heartbeat", Time = new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero), User = "u-1", Session = "s-1",
        Title = Guid.Parse("0195a0a0-0000-7000-8000-000000000009"), Position = 12, Bitrate = 3000,
    };

    private static string[] Ids(EventSpool.SpoolRecord r) =>
        [.. Encoding.UTF8.GetString(r.Payload).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()!)];

    [Fact]
    public async Task Acknowledged_records_are_read_back_after_the_writer_died_and_a_torn_record_is_ignored()
    {
        var now = TimeProvider.System.GetUtcNow();
        string dir;
        var writer = NewSpool();
        Assert.Equal((2, 0), await writer.AppendAsync([Heartbeat("a"), Heartbeat("b")], now, CancellationToken.None));
        Assert.Equal((1, 1), await writer.AppendAsync([Heartbeat("c"), Heartbeat("a")], now, CancellationToken.None)); // "a" again: a known duplicate
        dir = writer.OwnDirectory!;
        var other = NewSpool(); // another process's view: the writer holds its lock
        Assert.True(other.IsLive(dir));
        Assert.Equal(3, writer.EventsIn(dir));

        // The process dies in the middle of the next record: a copy of record 2 cut short, and one with a flipped byte.
        var segment = Assert.Single(Directory.GetFiles(dir, "*.seg"));
        var bytes = await File.ReadAllBytesAsync(segment);
        var first = EventSpool.HeaderBytes + BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4)) + 4;
        var second = bytes[first..];
        BinaryPrimitives.WriteInt64LittleEndian(second.AsSpan(8), 3); // as record 3
        var flipped = (byte[])second.Clone();
        flipped[EventSpool.HeaderBytes + 3] ^= 0x20;
        await writer.DisposeAsync(); // releases the lock as the dying process would
        await File.WriteAllBytesAsync(segment, [.. bytes, .. flipped, .. second[..(second.Length / 2)]]);

        Assert.False(other.IsLive(dir));
        var (records, cursor) = EventSpool.Read(dir, 0, int.MaxValue, null);
        Assert.Equal(new long[] { 1, 2 }, records.Select(r => r.Number));
        Assert.Equal(new[] { "a", "b" }, Ids(records[0]));
        Assert.Equal(new[] { "c" }, Ids(records[1]));
        Assert.Equal(new[] { 0, 1 }, records.Select(r => r.Duplicates));
        Assert.Equal(3, other.EventsIn(dir));

        // Resuming after the committed position replays only what follows it, with or without the last cursor.
        Assert.Equal(2, Assert.Single(EventSpool.Read(dir, 1, int.MaxValue, null).Records).Number);
        Assert.Empty(EventSpool.Read(dir, 2, int.MaxValue, cursor).Records);
        await other.DisposeAsync();
    }

    [Fact]
    public async Task A_roll_closes_the_segment_and_a_second_roll_with_nothing_written_is_harmless()
    {
        var now = TimeProvider.System.GetUtcNow();
        await using var writer = NewSpool();
        Assert.Equal((1, 0), await writer.AppendAsync([Heartbeat("r1")], now, CancellationToken.None));
        await writer.RollAsync(CancellationToken.None);
        await writer.RollAsync(CancellationToken.None); // an erasure then an export: nothing written in between
        Assert.Equal((1, 0), await writer.AppendAsync([Heartbeat("r2")], now, CancellationToken.None));
        var dir = writer.OwnDirectory!;
        Assert.Equal(2, Directory.GetFiles(dir, "*.seg").Length);
        Assert.Equal(new long[] { 1, 2 }, EventSpool.Read(dir, 0, int.MaxValue, null).Records.Select(r => r.Number));
        EventSpool.DeleteLoaded(dir, 1); // record 1 loaded: its closed segment goes, the writer's current one stays
        Assert.Equal(EventSpool.SegmentName(2), Path.GetFileName(Assert.Single(Directory.GetFiles(dir, "*.seg"))));
    }

    public void Dispose()
    {
        if (Directory.Exists(dataDir))
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
