using System.ComponentModel.DataAnnotations;

namespace Marquee.Media;

/// <summary>The media pipeline's settings, bound from <c>Marquee:Media</c>: tools, source limits, encoding.</summary>
internal sealed class MediaOptions : IValidatableObject
{
    public const string Section = "Marquee:Media";

    /// <summary>The ffmpeg executable: a path, or a name looked up on PATH.</summary>
    [Required]
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>The ffprobe executable: a path, or a name looked up on PATH.</summary>
    [Required]
    public string FfprobePath { get; set; } = "ffprobe";

    /// <summary>
    /// The demuxers ffmpeg may use on a source (its <c>-format_whitelist</c>), comma-separated. Without it a source named
    /// <c>.mp4</c> that is really an HLS or concat playlist would be opened as one and make ffmpeg read other local files.
    /// </summary>
    [Required]
    [RegularExpression("^[a-z0-9_]+(,[a-z0-9_]+)*$")]
    public string AllowedContainers { get; set; } = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,mpeg,mxf,flv,asf,mp3,flac,wav,w64,ogg,aac,aiff";

    /// <summary>
    /// How ffmpeg and ffprobe are confined: <c>Bubblewrap</c> (each run in <c>bwrap --unshare-all --die-with-parent</c>: no
    /// network, no other files than the binaries, its inputs read-only and one writable output folder, and killed with the
    /// server), <c>None</c>, or <c>Auto</c> (Bubblewrap when <c>bwrap</c> is installed, else None with a warning at start).
    /// </summary>
    public ToolSandboxMode Sandbox { get; set; } = ToolSandboxMode.Auto;

    /// <summary>The address-space limit of each ffmpeg/ffprobe run in MiB (<c>prlimit --as</c>); 0 for none.</summary>
    [Range(0, 1_048_576)]
    public int ToolMemoryLimitMb { get; set; } = 8192;

    /// <summary>The CPU-time limit of each ffmpeg/ffprobe run in seconds (<c>prlimit --cpu</c>); 0 for none (a long film legitimately takes hours).</summary>
    [Range(0, int.MaxValue)]
    public int ToolCpuLimitSeconds { get; set; }

    /// <summary>
    /// Free space the media store's file system should keep (MiB): below it <c>/health/ready</c> reports the
    /// <c>media-store</c> check <c>Degraded</c> (a transcode writes about as much as its source again).
    /// </summary>
    [Range(0, int.MaxValue)]
    public int MinFreeDiskMb { get; set; } = 1024;

    /// <summary>Sources longer than this are refused before any decoding.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "2.00:00:00")]
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromHours(6);

    /// <summary>Shorter sources (a still image renamed, a blip) are refused: too short to be a title.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan MinDuration { get; set; } = TimeSpan.FromSeconds(1);

    [Range(16, 16384)]
    public int MaxWidth { get; set; } = 7680;

    [Range(16, 16384)]
    public int MaxHeight { get; set; } = 4320;

    /// <summary>
    /// <see cref="MaxWidth"/> x <see cref="MaxHeight"/> as ffmpeg's <c>-max_pixels</c>, given to the probe, the validation
    /// decode and the transcoder: a decoder refuses a bigger picture from its header instead of allocating it.
    /// </summary>
    internal string MaxPixels => ((long)MaxWidth * MaxHeight).ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Range(1, 480)]
    public double MaxFrameRate { get; set; } = 120;

    /// <summary>Most streams (video, audio, subtitles, data) a source may carry.</summary>
    [Range(1, 256)]
    public int MaxStreams { get; set; } = 32;

    [Range(1, long.MaxValue)]
    public long MaxFileSizeBytes { get; set; } = 200L * 1024 * 1024 * 1024;

    /// <summary>Largest file uploaded to the asset library in one form post (artwork, subtitles, trailers, scripts; sources go through tus).</summary>
    [Range(1, long.MaxValue)]
    public long MaxLibraryFileBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Target length of one HLS segment; keyframes are forced on this grid in every rendition.</summary>
    [Range(1, 20)]
    public int SegmentSeconds { get; set; } = 4;

    /// <summary>The x264 preset (ultrafast ... veryslow); tests use ultrafast.</summary>
    [Required]
    [RegularExpression("^(ultrafast|superfast|veryfast|faster|fast|medium|slow|slower|veryslow)$")]
    public string X264Preset { get; set; } = "veryfast";

    /// <summary>Threads each encoder may use; 0 lets ffmpeg decide (all cores). Tests use 1 to leave room for the rest of the suite.</summary>
    [Range(0, 64)]
    public int EncoderThreads { get; set; }

    /// <summary>How far the decoded length may fall short of the probed one before a source counts as truncated: the larger of this and <see cref="TruncationTolerancePercent"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan TruncationTolerance { get; set; } = TimeSpan.FromSeconds(0.5);

    [Range(0, 50)]
    public double TruncationTolerancePercent { get; set; } = 2;

    /// <summary>How often the pipeline looks for received sources when nothing wakes it.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Most of a video source's audio streams packaged as alternate audio renditions (languages); the rest are left out.</summary>
    [Range(1, 32)]
    public int MaxAudioTracks { get; set; } = 8;

    /// <summary>Most of a source's text subtitle streams packaged as WebVTT subtitle renditions.</summary>
    [Range(0, 64)]
    public int MaxSubtitleTracks { get; set; } = 16;

    /// <summary>The largest .srt or .vtt file an operator may upload as a title's subtitles.</summary>
    [Range(1, 100L * 1024 * 1024)]
    public long MaxSubtitleBytes { get; set; } = 2L * 1024 * 1024;

    /// <summary>Whether video titles get an I-frame playlist (a small keyframe-only rendition, one picture per segment) for trick play.</summary>
    public bool IFramePlaylists { get; set; } = true;

    /// <summary>How many jobs (probe, transcode, package) one process runs at once. One transcode already uses every core.</summary>
    [Range(1, 64)]
    public int MaxConcurrentJobs { get; set; } = 1;

    /// <summary>How many times a job is tried before it is Failed (a rejected source is never retried).</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>The wait before the first automatic retry; it doubles with each further attempt (at most an hour).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a worker's claim on a running job lasts without a heartbeat. A job whose lease lapsed (its worker was killed)
    /// is put back in the queue by any worker's recovery; a live worker's job never is.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a running job renews its lease, writes its progress and looks for a cancel request.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HeartbeatInterval * 3 > LeaseDuration)
        {
            yield return new ValidationResult(
                $"HeartbeatInterval ({HeartbeatInterval}) must be at most a third of LeaseDuration ({LeaseDuration}), or a busy worker could lose its job.",
                [nameof(HeartbeatInterval), nameof(LeaseDuration)]);
        }

        if (Sandbox == ToolSandboxMode.Bubblewrap && !Tool.SandboxAvailable)
        {
            yield return new ValidationResult("Sandbox is Bubblewrap but 'bwrap' is not on PATH: install it (apt install bubblewrap) or choose Auto or None.", [nameof(Sandbox)]);
        }
    }
}
