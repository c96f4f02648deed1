using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.Media;
using Marquee.Tests.Support;

namespace Marquee.Tests.Media;

/// <summary>
/// R31, ffmpeg failures: sources that ffprobe or ffmpeg fail on (garbage, a truncated file, a transcode that fails), uploaded
/// through the HTTP stack with the real tools, leave a failure reason that says what went wrong, on one line, with no
/// server path (data folder, media store, temp folders), stack trace or raw multi-line tool output: in the jobs API, the
/// library API and the console's media and library pages.
/// </summary>
[Trait("Category", "Media")]
[Collection("Media")]
public sealed partial class FailureLeakTests(MediaSources sources) : IClassFixture<MediaSources>
{
    [GeneratedRegex(@"\bat [A-Z][\w.`]+\.[\w<>`]+\(|\.cs:line \d+|System\.[\w.]+Exception|file:/|/tmp/|/work/|/home/|/root/|/srv/|/var/|/usr/|/media/sources/|/media/published/")]
    private static partial Regex Leak();

    /// <summary>
    /// Real ffmpeg, except that the transcode (the run that writes HLS) is given an input that is not there, as when the
    /// source goes away under it: ffmpeg then fails with the input's full path in its error.
    /// </summary>
    private const string LosingFfmpeg = """
        #!/bin/sh
        hls=no
        for a in "$@"; do [ "$a" = hls ] && hls=yes; done
        if [ "$hls" = yes ]; then
          for a in "$@"; do
            shift
            case "$a" in file:*) a="$a.gone" ;; esac
            set -- "$@" "$a"
          done
        fi
        exec /usr/bin/ffmpeg "$@"
        """;

    [Fact]
    public async Task Failed_and_rejected_sources_show_a_reason_without_server_paths_everywhere()
    {
        var wrapper = Path.Combine(sources.Folder, $"losing-ffmpeg-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(wrapper, LosingFfmpeg.Replace("\r", "", StringComparison.Ordinal) + "\n");
        if (!OperatingSystem.IsWindows()) // (a shell script: the suite runs on Linux)
        {
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        await using var app = await MarqueeApp.StartAsync(c => // Production
        {
            c["Marquee:Media:X264Preset"] = "ultrafast";
            c["Marquee:Media:PollInterval"] = "00:00:00.100";
            c["Marquee:Media:EncoderThreads"] = "1";
            c["Marquee:Media:MaxAttempts"] = "1";
            c["Marquee:Media:FfmpegPath"] = wrapper;
        });

        var uploads = new Dictionary<string, string> // file -> what its reason says
        {
            [MediaSources.NotMedia] = "Not a media file",
            [MediaSources.Truncated] = "truncated",
            [MediaSources.Video720] = "ffmpeg failed",
        };
        foreach (var name in uploads.Keys)
        {
            await UploadAsync(app.Client, await File.ReadAllBytesAsync(sources.PathOf(name)), name);
        }

        var jobs = await Poll.UntilAsync(() => app.Client.GetFromJsonAsync<JsonElement>("/api/media/assets"),
            j => j.GetArrayLength() == uploads.Count && j.EnumerateArray().All(x => x.GetProperty("state").GetString() is "Rejected" or "Failed"),
            TimeSpan.FromSeconds(60), "the three uploads to be rejected or fail");

        var reasons = new List<string>();
        foreach (var job in jobs.EnumerateArray())
        {
            var one = await app.Client.GetAsync($"/api/media/assets/{job.GetProperty("assetId").GetGuid()}");
            var reason = (await one.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reason").GetString()!;
            reasons.Add(reason);
            AssertClean(reason, app.DataDir, sources.Folder);
        }

        Assert.Contains(reasons, r => r.StartsWith("Not a media file", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.Contains("truncated", StringComparison.Ordinal));
        var transcode = Assert.Single(reasons, r => r.StartsWith("ffmpeg failed", StringComparison.Ordinal));
        Assert.Contains(".mp4.gone: No such file or directory", transcode, StringComparison.Ordinal); // which file, and why

        // The same reasons in the list, the library and on the console's pages (HTML-encoded there: compared decoded).
        foreach (var where in new[] { "/api/media/assets", "/api/media/library", "/console/media", "/console/media/library" })
        {
            var response = await app.Client.GetAsync(where);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync());
            AssertClean(body, app.DataDir, sources.Folder, multiLine: true);
            var shows = new[] { "Not a media file", "truncated", "ffmpeg failed" }.Where(r => body.Contains(r, StringComparison.Ordinal)).ToList();
            // The jobs list and page show every reason; the library notes the rejected sources (a failed job is not a library entry).
            Assert.Equal(where.Contains("library", StringComparison.Ordinal) ? 2 : 3, shows.Count);
        }

        // Negative control: the tools' raw errors for the same failures do name the server's paths, and the same check finds them.
        var garbage = Path.Combine(app.DataDir, "media", "sources", "control-notes.mp4");
        File.Copy(sources.PathOf(MediaSources.NotMedia), garbage);
        var probe = await RunAsync("/usr/bin/ffprobe", "-v", "error", "-show_format", "file:" + garbage);
        Assert.Matches(Leak(), probe);
        Assert.Contains(app.DataDir, probe, StringComparison.Ordinal);
        var lost = await RunAsync(wrapper, "-nostdin", "-v", "error", "-i", "file:" + garbage, "-f", "hls", Path.Combine(app.DataDir, "control.m3u8"));
        Assert.Matches(Leak(), lost);
        Assert.Contains(app.DataDir, lost, StringComparison.Ordinal);
        Assert.DoesNotMatch(Leak(), FailureReason.ForPeople(lost, [app.DataDir])!);
        Assert.DoesNotMatch(Leak(), FailureReason.ForPeople(lost)!); // without the known folders too: any absolute path is cut to its file name
    }

    [Theory]
    [InlineData("file:/srv/marquee data/media/sources/a b.mp4: No such file or directory", "/srv/marquee data", "a b.mp4: No such file or directory")]
    [InlineData("Could not find a part of the path '/tmp/x/media/published/abc.staging/720p'.", null, "Could not find a part of the path '720p'.")]
    [InlineData("Could not start '/opt/tools/ffmpeg': not found.\n  Set Marquee:Media:FfmpegPath.", null, "Could not start 'ffmpeg': not found. Set Marquee:Media:FfmpegPath.")]
    [InlineData("ffmpeg failed with exit code 1: Error opening output 720p/index.m3u8: 1/2 done", null, "ffmpeg failed with exit code 1: Error opening output 720p/index.m3u8: 1/2 done")]
    [InlineData("see https://ffmpeg.org/bugreports.html", null, "see https://ffmpeg.org/bugreports.html")]
    public void ForPeople_cuts_absolute_paths_to_their_file_name_and_keeps_the_rest(string raw, string? root, string expected) =>
        Assert.Equal(expected, FailureReason.ForPeople(raw, [root]));

    private static void AssertClean(string text, string dataDir, string sourcesFolder, bool multiLine = false)
    {
        Assert.DoesNotMatch(Leak(), text);
        Assert.DoesNotContain(dataDir, text, StringComparison.Ordinal);
        Assert.DoesNotContain(sourcesFolder, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Path.GetTempPath(), text, StringComparison.Ordinal);
        if (!multiLine)
        {
            Assert.DoesNotContain('\n', text);
        }
    }

    private static async Task UploadAsync(HttpClient client, byte[] bytes, string fileName)
    {
        using var create = new HttpRequestMessage(HttpMethod.Post, "/api/media/uploads");
        create.Headers.Add("Tus-Resumable", "1.0.0");
        create.Headers.Add("Upload-Length", bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        create.Headers.Add("Upload-Metadata", $"filename {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(fileName))},title {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("Leak " + fileName))}");
        var created = await client.SendAsync(create);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var patch = new HttpRequestMessage(HttpMethod.Patch, created.Headers.Location);
        patch.Headers.Add("Tus-Resumable", "1.0.0");
        patch.Headers.Add("Upload-Offset", "0");
        patch.Content = new ByteArrayContent(bytes);
        patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(patch)).StatusCode);
    }

    /// <summary>A tool's standard error.</summary>
    private static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return await errors;
    }
}
