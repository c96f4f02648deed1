using System.Globalization;
using System.Threading.Channels;
using Marquee.Analytics.Contracts;

namespace Marquee.Analytics;

/// <summary>
/// CTA-5004 CMCD from the origin (Delivery's segment endpoint, through <see cref="IPlaybackTelemetry"/>) into the event
/// stream as <c>cmcd</c> events: <see cref="Record"/> only queues (bounded, never waits); a loop takes what is queued
/// every second (or 2,000 at a time), parses it and stores it through the <see cref="Collector"/> in one batch. A report
/// whose CMCD does not parse is quarantined with the reason; the segment was served either way.
/// </summary>
internal sealed class CmcdFeed : IPlaybackTelemetry, IAsyncDisposable
{
    private const int MaxQueued = 100_000;
    private const int BatchSize = 2_000;
    private readonly Channel<SegmentRequestTelemetry> channel = Channel.CreateBounded<SegmentRequestTelemetry>(
        new BoundedChannelOptions(MaxQueued) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly IServiceScopeFactory scopes;
    private readonly ILogger<CmcdFeed> log;
    private readonly Lock startLock = new();
    private Task? loop;
    private long dropped;

    public CmcdFeed(IServiceScopeFactory scopes, ILogger<CmcdFeed> log)
    {
        this.scopes = scopes;
        this.log = log;
    }

    /// <summary>Reports dropped because the queue was full (since the start).</summary>
    public long Dropped => Interlocked.Read(ref dropped);

    public void Record(SegmentRequestTelemetry report)
    {
        if (loop is null)
        {
            lock (startLock)
            {
                loop ??= Task.Run(RunAsync);
            }
        }

        if (!channel.Writer.TryWrite(report))
        {
            Interlocked.Increment(ref dropped);
        }
    }

    private async Task RunAsync()
    {
        var batch = new List<Incoming>(BatchSize);
        while (await channel.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < BatchSize && channel.Reader.TryRead(out var r))
            {
                batch.Add(ToEvent(r));
            }

            for (var attempt = 1; attempt <= 3; attempt++)
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    await scope.ServiceProvider.GetRequiredService<Collector>().IngestAsync(batch, trusted: true, null, null, backfill: false, CancellationToken.None);
                    break;
                }
                catch (Exception ex) when (attempt < 3 && ex is StoreBusyException)
                {
                    await Task.Delay(TimeSpan.FromSeconds(attempt));
                }
                catch (Exception ex)
                {
                    CmcdLog.Failed(log, batch.Count, ex);
                    break;
                }
            }

            if (batch.Count < BatchSize && !channel.Reader.Completion.IsCompleted)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1)); // gather a second's worth: one transaction, not one per segment
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>The report as a <c>cmcd</c> event, or why its CMCD is refused.</summary>
    public static Incoming ToEvent(SegmentRequestTelemetry r)
    {
        var keys = Parse(r.Cmcd, out var problem);
        var e = new AnalyticsEvent
        {
            Id = $"cmcd:{Guid.CreateVersion7():N}", Type = EventSchema.Cmcd, Time = r.At, User = r.AccountId == Guid.Empty ? "anonymous" : r.AccountId.ToString(),
            Session = r.SessionId.ToString(), Title = r.TitleId, Device = r.Device, Cmcd = EventSchema.Cut(r.Cmcd, 1000),
        };
        if (keys is null)
        {
            return new Incoming(null, $"cmcd: {problem}", System.Text.Json.JsonSerializer.Serialize(e, AnalyticsJson.Default.AnalyticsEvent));
        }

        return new Incoming(e with
        {
            Bitrate = keys.GetValueOrDefault("br") is double br ? (int)Math.Min(int.MaxValue, br) : null,
            BufferMs = keys.GetValueOrDefault("bl") is double bl ? bl : null,
            Starved = keys.ContainsKey("bs") ? true : null,
            Throughput = keys.GetValueOrDefault("mtp") is double mtp ? mtp : null,
            Ms = keys.GetValueOrDefault("d") is double d ? d : null,
            Code = keys.TryGetValue("ot", out var ot) ? ot as string : null,
        }, null, "");
    }

    private static readonly HashSet<string> Numbers = new(StringComparer.Ordinal) { "br", "bl", "d", "dl", "mtp", "rtp", "tb", "pr", "nor_n" };

    /// <summary>
    /// CTA-5004 data: comma-separated <c>key[=value]</c>; a key alone is true (<c>bs</c>, <c>su</c>); values are integers,
    /// decimals, "quoted strings" or tokens. Null with the problem when it is not that (or too long).
    /// </summary>
    public static Dictionary<string, object>? Parse(string text, out string? problem)
    {
        problem = null;
        if (text.Length is 0 or > 2000)
        {
            problem = "empty or longer than 2,000 characters";
            return null;
        }

        var keys = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var part in SplitOutsideQuotes(text))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var key = (eq < 0 ? part : part[..eq]).Trim();
            if (key.Length == 0 || key.Length > 40 || !char.IsAsciiLetterLower(key[0]) || !key.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                problem = $"bad key '{EventSchema.Cut(key, 40)}'";
                return null;
            }

            if (eq < 0)
            {
                // A key alone is true (bs, su); a numeric key alone is not a number (found by fuzzing: "br" alone threw).
                if (Numbers.Contains(key))
                {
                    problem = $"{key}: not a number >= 0";
                    return null;
                }

                keys[key] = true;
                continue;
            }

            var value = part[(eq + 1)..].Trim();
            if (Numbers.Contains(key))
            {
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || !double.IsFinite(n) || n < 0)
                {
                    problem = $"{key}: not a number >= 0";
                    return null;
                }

                keys[key] = n;
            }
            else if (value.StartsWith('"'))
            {
                if (value.Length < 2 || !value.EndsWith('"'))
                {
                    problem = $"{key}: unterminated string";
                    return null;
                }

                keys[key] = value[1..^1];
            }
            else if (value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_'))
            {
                keys[key] = value;
            }
            else
            {
                problem = $"{key}: not a token, number or quoted string";
                return null;
            }
        }

        return keys;
    }

    private static IEnumerable<string> SplitOutsideQuotes(string text)
    {
        var start = 0;
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '"')
            {
                quoted = !quoted;
            }
            else if (text[i] == ',' && !quoted)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }

        yield return text[start..];
    }

    public async ValueTask DisposeAsync()
    {
        channel.Writer.TryComplete();
        if (loop is not null)
        {
            await loop;
        }
    }
}

internal static partial class CmcdLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} CMCD reports could not be stored.")]
    public static partial void Failed(ILogger logger, int count, Exception exception);
}
