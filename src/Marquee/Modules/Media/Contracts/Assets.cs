namespace Marquee.Media.Contracts;

/// <summary>Where a media asset (one uploaded source of a title) is on its way to playback.</summary>
public enum AssetState
{
    /// <summary>Stored, waiting for the pipeline.</summary>
    Received,

    /// <summary>Being probed and checked by a full decode.</summary>
    Probing,

    /// <summary>Refused: not media, empty, damaged, truncated or over a limit. The reason says which.</summary>
    Rejected,

    /// <summary>Being transcoded, packaged and encrypted.</summary>
    Transcoding,

    /// <summary>Published: playable.</summary>
    Ready,

    /// <summary>The pipeline failed on an accepted source (an operator may retry).</summary>
    Failed,
}

/// <summary>An asset was transcoded, encrypted and published: the title it belongs to can be played.</summary>
[Marquee.Platform.Events.EventName("media.asset-ready.v1")]
public sealed record AssetReady(Guid AssetId, Guid TitleId, TimeSpan Duration, bool AudioOnly) : Marquee.Platform.Events.IDomainEvent;

/// <summary>An asset's source was refused (not media, empty, damaged, truncated or over a limit).</summary>
[Marquee.Platform.Events.EventName("media.asset-rejected.v1")]
public sealed record AssetRejected(Guid AssetId, Guid TitleId, string Reason) : Marquee.Platform.Events.IDomainEvent;
