namespace Marquee.Media.Contracts;

/// <summary>
/// A title's published HLS package: a folder with <see cref="MasterPlaylist"/> (fMP4/CMAF variants, media playlists,
/// init segments, AES-128 encrypted media segments) whose <c>#EXT-X-KEY</c> URIs are placeholders that Delivery
/// rewrites per playback session.
/// </summary>
/// <param name="TitleId">The Catalog title it belongs to.</param>
/// <param name="AssetId">The Media asset (the key is per asset).</param>
/// <param name="Root">Absolute path of the published folder.</param>
/// <param name="MasterPlaylist">Path of the master playlist, relative to <paramref name="Root"/> (e.g. <c>master.m3u8</c>).</param>
/// <param name="Duration">The programme's duration.</param>
/// <param name="HasThumbnails">
/// True when the package has a WebVTT thumbnail track (<see cref="ThumbnailTrack"/> beside the master playlist, its cues
/// naming JPEG sprite sheets in the same folder with <c>#xywh=x,y,w,h</c>); video packages have one, audio-only ones none.
/// </param>
public sealed record PackagedTitle(Guid TitleId, Guid AssetId, string Root, string MasterPlaylist, TimeSpan Duration, bool HasThumbnails = false)
{
    /// <summary>The file name of a package's WebVTT thumbnail track (for scrubbing), in the master playlist's folder.</summary>
    public const string ThumbnailTrack = "thumbnails.vtt";
}

/// <summary>Media's contract for Delivery: where a playable title's package is and its content key.</summary>
public interface IMediaPackages
{
    /// <summary>The newest ready package of the title, or null when the title has none (not uploaded, still transcoding, rejected).</summary>
    Task<PackagedTitle?> FindPlayableAsync(Guid titleId, CancellationToken cancellationToken);

    /// <summary>The 16-byte AES-128 content key of the asset (unprotected), or null when unknown.</summary>
    Task<byte[]?> GetContentKeyAsync(Guid assetId, CancellationToken cancellationToken);
}
