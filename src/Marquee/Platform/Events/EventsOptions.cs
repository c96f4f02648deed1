using System.ComponentModel.DataAnnotations;

namespace Marquee.Platform.Events;

/// <summary>Outbox delivery, bound from <c>Marquee:Events</c>.</summary>
public sealed class EventsOptions
{
    public const string Section = "Marquee:Events";

    /// <summary>How often the dispatcher looks for due messages when nothing signals it.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>First retry delay; each later retry doubles it, up to <see cref="MaxRetryDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(5);

    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>After this many failed attempts a message is marked failed and waits for an operator.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 10;

    [Range(1, 1000)]
    public int BatchSize { get; set; } = 50;

    /// <summary>How long a worker holds a claimed message before another worker may take it.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// <b>Never in production.</b> The deliberately broken variant for R3's negative control: a message is marked delivered
    /// before its handlers run (at-most-once), so a crash between the two loses it. False by default.
    /// </summary>
    public bool UnsafeAtMostOnce { get; set; }

    public TimeSpan RetryDelay(int attempts)
    {
        var factor = Math.Pow(2, Math.Clamp(attempts - 1, 0, 30));
        var delay = TimeSpan.FromTicks((long)Math.Min(RetryBaseDelay.Ticks * factor, MaxRetryDelay.Ticks));
        return delay;
    }
}
