namespace Marquee.Media;

internal enum StreamKind
{
    Video,
    Audio,
    Subtitle,
    Data,
    Other,
}

/// <summary>One stream of a source as ffprobe saw it.</summary>
internal sealed record MediaStream(
    int Index,
    StreamKind Kind,
    string? Codec,
    int? Width,
    int? Height,
    double? FrameRate,
    int? Channels,
    int? SampleRate,
    string? Language);

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
