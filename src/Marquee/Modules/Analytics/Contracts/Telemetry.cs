namespace Marquee.Analytics.Contracts;

/// <summary>
/// What the origin saw of one segment request that carried CTA-5004 Common Media Client Data (the <c>CMCD</c> query
/// parameter hls.js adds). The session, account and title come from the origin's own (authorized) playback session, not
/// from the client's data; <paramref name="Cmcd"/> is the parameter as sent.
/// </summary>
public sealed record SegmentRequestTelemetry(Guid SessionId, Guid AccountId, Guid TitleId, string Device, DateTimeOffset At, string Cmcd);

/// <summary>
/// Analytics' ingestion contract for other modules' request-path telemetry. <see cref="Record"/> never blocks and never
/// throws: it queues the report in memory; Analytics parses and stores them in batches (a malformed report is
/// quarantined with its reason). Best effort: a report still queued when the process dies, or beyond a full queue, is lost
/// (and counted), which the segment answer never waits for.
/// </summary>
public interface IPlaybackTelemetry
{
    void Record(SegmentRequestTelemetry report);
}
