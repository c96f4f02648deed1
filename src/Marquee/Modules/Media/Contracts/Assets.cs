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
