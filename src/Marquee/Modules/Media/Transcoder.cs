using System.Globalization;
using Microsoft.Extensions.Options;

namespace Marquee.Media;

/// <summary>How far a transcode has got: position in the source, percent of it, encoding speed and the time left at that speed.</summary>
internal sealed record TranscodeProgress(TimeSpan Position, double Percent, double Fps, double Speed, TimeSpan? Remaining);

/// <summary>
/// Runs ONE ffmpeg process that decodes the source once and encodes every rendition of the ladder: a split filter
/// feeding one scaler and one x264 encoder per rung, keyframes forced on the same segment grid in every rendition
/// (closed GOPs, no scene-cut keyframes), written as HLS with fMP4 segments and a master playlist.
/// Video sources get one AAC rendition in an audio group (EXT-X-MEDIA TYPE=AUDIO) shared by every video variant;
/// audio-only sources get loudness-normalised AAC variants.
/// </summary>
internal sealed class Transcoder(IOptions<MediaOptions> options)
{
    private readonly MediaOptions options = options.Value;

    internal MediaOptions Options => options;

    /// <summary>The ladder for <paramref name="info"/> under these options (how many alternate audio renditions a video may get).</summary>
    public LadderPlan Plan(MediaInfo info) => Ladder.For(info, options.MaxAudioTracks);

    /// <summary>Whether the process also makes the keyframe-only rendition of <see cref="IFrames"/> (video titles, when configured).</summary>
    public bool MakesIFrames(LadderPlan plan) => options.IFramePlaylists && plan is { IsAudioOnly: false };

    /// <summary>The ffmpeg arguments for <paramref name="sourcePath"/>, writing into the current directory (the staging folder).</summary>
    public IReadOnlyList<string> Arguments(string sourcePath, MediaInfo info, LadderPlan plan)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(plan);
        var seg = options.SegmentSeconds.ToString(CultureInfo.InvariantCulture);
        var a = new List<string> { "-nostdin", "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", options.AllowedContainers, "-max_pixels", options.MaxPixels, "-i", "file:" + sourcePath };
        var streamMap = new List<string>();

        if (!plan.IsAudioOnly)
        {
            var n = plan.Video.Count;
            var graph = VideoGraph(plan.Video);
            if (MakesIFrames(plan))
            {
                graph += IFrames.Graph(plan.Video[^1], options.SegmentSeconds);
            }

            a.AddRange(["-filter_complex", graph]);
            for (var i = 0; i < n; i++)
            {
                a.AddRange(["-map", $"[v{i}]"]);
            }

            if (MakesIFrames(plan))
            {
                a.AddRange(IFrames.Map()); // video output stream n, after the rungs
            }

            var gop = ((int)Math.Round((info.Video?.FrameRate ?? 25) * options.SegmentSeconds)).ToString(CultureInfo.InvariantCulture);
            a.AddRange(["-c:v", "libx264", "-preset", options.X264Preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
                "-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-flags", "+cgop",
                "-force_key_frames", $"expr:gte(t,n_forced*{seg})"]);
            for (var i = 0; i < n; i++)
            {
                var k = plan.Video[i].Kbps;
                a.AddRange([$"-b:v:{i}", $"{k}k", $"-maxrate:v:{i}", $"{k * 11 / 10}k", $"-bufsize:v:{i}", $"{k * 2}k"]);
            }

            if (MakesIFrames(plan))
            {
                a.AddRange(IFrames.Options(n));
            }

            if (plan.Audio.Count > 0)
            {
                // One AAC rendition per source audio stream (alternate languages), all in the one audio group every video variant names.
                foreach (var audio in plan.Audio)
                {
                    a.AddRange(["-map", $"0:a:{audio.SourceIndex}"]);
                }

                a.AddRange(["-c:a", "aac", "-b:a", $"{plan.Audio[0].Kbps}k", "-ac", "2", "-ar", "48000"]);
                streamMap.AddRange(plan.Audio.Select((r, i) => $"a:{i},agroup:audio,name:{r.Name}"));
                streamMap.AddRange(plan.Video.Select((v, i) => $"v:{i},agroup:audio,name:{v.Name}"));
            }
            else
            {
                streamMap.AddRange(plan.Video.Select((v, i) => $"v:{i},name:{v.Name}"));
            }
        }
        else
        {
            var n = plan.Audio.Count;
            // EBU R128 loudness normalisation to -16 LUFS (one pass, dynamic), then one encoder per bitrate.
            var graph = $"[0:a:0]loudnorm=I=-16:TP=-1.5:LRA=11,aresample=48000,asplit={n}{string.Concat(Enumerable.Range(0, n).Select(i => $"[a{i}]"))}";
            a.AddRange(["-filter_complex", graph]);
            for (var i = 0; i < n; i++)
            {
                a.AddRange(["-map", $"[a{i}]"]);
            }

            a.AddRange(["-c:a", "aac", "-ac", "2"]);
            for (var i = 0; i < n; i++)
            {
                a.AddRange([$"-b:a:{i}", $"{plan.Audio[i].Kbps}k"]);
                streamMap.Add($"a:{i},name:{plan.Audio[i].Name}");
            }
        }

        if (MakesIFrames(plan))
        {
            streamMap.Add(IFrames.StreamMap(plan.Video.Count)); // last: the master lists it after the variants
        }

        if (options.EncoderThreads > 0)
        {
            a.AddRange(["-threads", options.EncoderThreads.ToString(CultureInfo.InvariantCulture)]);
        }

        a.AddRange(["-f", "hls", "-hls_time", seg, "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
            "-hls_flags", "independent_segments", "-hls_fmp4_init_filename", "init.mp4",
            "-hls_segment_filename", "%v/seg_%05d.m4s", "-master_pl_name", "master.m3u8",
            "-var_stream_map", string.Join(' ', streamMap),
            "-progress", "pipe:1", "-nostats", "%v/index.m3u8"]);
        return a;
    }

    /// <summary>
    /// The video part of the graph: a cascade of scalers, each rung scaled from the rung above it (best first, as the
    /// ladder lists them), not every rung from the full-size picture: a 1080p source is scaled once to 720p, the 720p
    /// picture to 480p, and so on, so each scaler reads a picture at most one rung larger than it writes (the top rung,
    /// at the source's size, passes through untouched). Output <c>[v0]</c>…<c>[vN-1]</c> in ladder order.
    /// </summary>
    internal static string VideoGraph(IReadOnlyList<VideoRung> rungs)
    {
        ArgumentNullException.ThrowIfNull(rungs);
        var graph = new System.Text.StringBuilder("[0:v:0]");
        for (var i = 0; i < rungs.Count; i++)
        {
            if (i > 0)
            {
                graph.Append($";[c{i - 1}]");
            }

            graph.Append($"scale={rungs[i].Width}:{rungs[i].Height},setsar=1");
            graph.Append(i < rungs.Count - 1 ? $",split=2[v{i}][c{i}]" : $"[v{i}]");
        }

        return graph.ToString();
    }

    /// <summary>Transcodes into <paramref name="outputFolder"/> (which must exist). Throws <see cref="TranscodeFailedException"/> when ffmpeg fails.</summary>
    public async Task RunAsync(string sourcePath, MediaInfo info, LadderPlan plan, string outputFolder,
        IProgress<TranscodeProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(info);
        var reader = new ProgressReader(info.Duration, progress);
        var run = await Tool.RunConfinedAsync(options, options.FfmpegPath, ToolAccess.Reading(sourcePath, outputFolder), Arguments(sourcePath, info, plan),
            reader.Read, cancellationToken, outputFolder);
        if (!run.Succeeded)
        {
            throw new TranscodeFailedException($"ffmpeg failed with exit code {run.ExitCode}: {run.LastError}");
        }
    }

    /// <summary>Writes one JPEG still at about a tenth of the way in.</summary>
    public async Task PosterAsync(string sourcePath, MediaInfo info, string posterPath, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(info);
        var at = (info.Duration.TotalSeconds / 10).ToString("0.###", CultureInfo.InvariantCulture);
        var run = await Tool.RunConfinedAsync(options, options.FfmpegPath, ToolAccess.Reading(sourcePath, Path.GetDirectoryName(Path.GetFullPath(posterPath))),
            ["-nostdin", "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", options.AllowedContainers, "-max_pixels", options.MaxPixels, "-ss", at, "-i", "file:" + sourcePath,
             "-map", "0:v:0", "-frames:v", "1", "-q:v", "3", "-y", "file:" + posterPath],
            null, cancellationToken);
        if (!run.Succeeded || !File.Exists(posterPath))
        {
            throw new TranscodeFailedException($"The poster could not be made: {run.LastError}");
        }
    }

    /// <summary>Reads ffmpeg's <c>-progress</c> blocks (key=value lines ending with <c>progress=continue|end</c>).</summary>
    internal sealed class ProgressReader(TimeSpan duration, IProgress<TranscodeProgress>? progress)
    {
        private long outTimeUs;
        private double fps;
        private double speed;

        public void Read(string line)
        {
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                return;
            }

            var key = line[..eq];
            var value = line[(eq + 1)..].Trim();
            switch (key)
            {
                case "out_time_us" when long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var us):
                    outTimeUs = Math.Max(outTimeUs, us);
                    break;
                case "fps" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var f):
                    fps = f;
                    break;
                case "speed" when double.TryParse(value.TrimEnd('x'), NumberStyles.Float, CultureInfo.InvariantCulture, out var s):
                    speed = s;
                    break;
                case "progress":
                    progress?.Report(Snapshot(value == "end"));
                    break;
            }
        }

        private TranscodeProgress Snapshot(bool end)
        {
            var position = TimeSpan.FromMicroseconds(outTimeUs);
            if (end)
            {
                return new TranscodeProgress(position, 100, fps, speed, TimeSpan.Zero);
            }

            var percent = duration > TimeSpan.Zero ? Math.Clamp(position / duration * 100, 0, 99.9) : 0;
            TimeSpan? remaining = speed > 0 && duration > position ? (duration - position) / speed : null;
            return new TranscodeProgress(position, percent, fps, speed, remaining);
        }
    }
}

internal sealed class TranscodeFailedException(string message) : Exception(message);
