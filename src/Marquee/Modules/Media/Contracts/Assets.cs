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

    /// <summary>The pipeline failed on an accepted source, every automatic attempt included (an operator may retry).</summary>
    Failed,

    /// <summary>An operator cancelled it: nothing was published (an operator may retry).</summary>
    Cancelled,
}

/// <summary>An asset was transcoded, encrypted and published: the title it belongs to can be played.</summary>
[Marquee.Platform.Events.EventName("media.asset-ready.v1")]
public sealed record AssetReady(Guid AssetId, Guid TitleId, TimeSpan Duration, bool AudioOnly) : Marquee.Platform.Events.IDomainEvent;

/// <summary>An asset's source was refused (not media, empty, damaged, truncated or over a limit).</summary>
[Marquee.Platform.Events.EventName("media.asset-rejected.v1")]
public sealed record AssetRejected(Guid AssetId, Guid TitleId, string Reason) : Marquee.Platform.Events.IDomainEvent;

/// <summary>Where an asset is and why, as an operator or a CLI sees it.</summary>
public sealed record AssetStatus(Guid AssetId, Guid TitleId, AssetState State, string? Reason);

/// <summary>Ingest from the shell (<c>marquee ingest</c>): a file on this machine becomes a source of a title.</summary>
public interface IMediaIngest
{
    /// <summary>Why the file cannot be ingested (missing, empty, a type not accepted), or null when it can be tried.</summary>
    string? Refusal(string file);

    /// <summary>Copies <paramref name="file"/> into the media store and queues it for the pipeline.</summary>
    /// <exception cref="ArgumentException">The file does not exist, is empty, or its type is not accepted.</exception>
    Task<AssetStatus> IngestFileAsync(string file, Guid titleId, Marquee.Platform.Web.RequestActor actor, CancellationToken cancellationToken) =>
        IngestFileAsync(file, titleId, 0, actor, cancellationToken);

    /// <summary>As the overload without a priority, queued with <paramref name="priority"/> (-1000 to 1000; higher runs first).</summary>
    Task<AssetStatus> IngestFileAsync(string file, Guid titleId, int priority, Marquee.Platform.Web.RequestActor actor, CancellationToken cancellationToken);

    /// <summary>
    /// Runs the pipeline in this process (alongside any server's workers) until the asset is Ready, Rejected, Failed or Cancelled,
    /// reporting its state and progress (read from the database, whichever process runs the job) as they change.
    /// </summary>
    Task<AssetStatus> WaitAsync(Guid assetId, IProgress<string>? progress, CancellationToken cancellationToken);
}
