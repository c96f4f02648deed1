namespace Marquee.Media;

internal enum StreamKind
{
    Video,
    Audio,
    Subtitle,
    Data,
    Other,
}

/// <summary>
/// One stream of a source as ffprobe saw it. <see cref="Width"/> is in stored pixels; <see cref="SampleAspectRatio"/> (when not square) widens them for display.
/// <see cref="Language"/> is the container's tag (ISO 639-2, e.g. <c>eng</c>), <see cref="Title"/> its title tag, <see cref="IsDefault"/> its default disposition.
/// </summary>
internal sealed record MediaStream(
    int Index,
    StreamKind Kind,
    string? Codec,
    int? Width,
    int? Height,
    double? FrameRate,
    int? Channels,
    int? SampleRate,
    string? Language,
    double? SampleAspectRatio = null,
    string? Title = null,
    bool IsDefault = false)
{
    /// <summary>The width the picture is shown at: anamorphic sources (a DVD's 720x480 at 32:27) are wider than they are stored.</summary>
    public int? DisplayWidth => Width is { } w && SampleAspectRatio is > 0 and var sar && Math.Abs(sar - 1) > 0.001
        ? (int)Math.Round(w * sar)
        : Width;
}

/// <summary>What a probe learned of a source: its container, length and streams.</summary>
internal sealed record MediaInfo(string Container, TimeSpan Duration, long SizeBytes, IReadOnlyList<MediaStream> Streams)
{
    public MediaStream? Video => Streams.FirstOrDefault(s => s.Kind == StreamKind.Video);

    public MediaStream? Audio => Streams.FirstOrDefault(s => s.Kind == StreamKind.Audio);

    public bool IsAudioOnly => Video is null && Audio is not null;
}

/// <summary>The outcome of probing a source: accepted with its <see cref="MediaInfo"/>, or rejected with a reason.</summary>
internal abstract record ProbeOutcome;

internal sealed record MediaAccepted(MediaInfo Info, string ProbeJson) : ProbeOutcome;

/// <summary>A source refused, with a reason a person can read and act on.</summary>
internal sealed record MediaRejected(string Reason) : ProbeOutcome;
