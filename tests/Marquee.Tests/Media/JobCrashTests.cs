using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Support;

namespace Marquee.Tests.Media;

/// <summary>
/// The real <c>marquee serve</c> killed with SIGKILL in the middle of a transcode: nothing half-written is published, and the
/// restarted server finds the job's lease lapsed, runs it again by itself and publishes a complete, playable package.
/// </summary>
[Trait("Category", "Media")]
[Collection("Media")]
public sealed class JobCrashTests
{
    private static async Task<JsonElement?> JobOfAsync(HttpClient client, Guid titleId)
    {
        try
        {
            var jobs = await client.GetFromJsonAsync<JsonElement[]>("/api/media/assets");
            return jobs!.Cast<JsonElement?>().FirstOrDefault(j => j!.Value.GetProperty("titleId").GetGuid() == titleId);
        }
        catch (HttpRequestException)
        {
            return null; // a busy server: ask again until the deadline
        }
    }

    private static int FfmpegsReading(string dataDir)
    {
        var count = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                count += Path.GetFileName(argv[0]) == "ffmpeg" && argv.Any(a => a.Contains(dataDir, StringComparison.Ordinal)) ? 1 : 0;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return count;
    }

    private const string AdminPassword = "a long crash-test passphrase";

    private static double? Percent(JsonElement? job) =>
        job?.GetProperty("progress") is { ValueKind: JsonValueKind.Object } p ? p.GetProperty("percent").GetDouble() : null;

    [Fact]
    public async Task KillHard_DuringATranscode_PublishesNothingHalfWritten_AndTheRestartedServerFinishesIt()
    {
        await using var storage = await TestStorage.CreateAsync();
        var source = Path.Combine(storage.DataDir, "long-film.mp4");
        await MediaSources.FfmpegAsync(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", source]);
        var environment = storage.Environment();
        environment["Marquee__Media__X264Preset"] = "ultrafast";
        environment["Marquee__Media__EncoderThreads"] = "1";
        environment["Marquee__Media__PollInterval"] = "00:00:00.200";
        environment["Marquee__Media__LeaseDuration"] = "00:00:10"; // a restart waits this long at most; a busy 2-core machine needs slack
        environment["Marquee__Media__HeartbeatInterval"] = "00:00:01";
        await MarqueeProcess.CreateAdminAsync(environment, "crash-admin@marquee.test", AdminPassword);
        var baseAddress = new Uri($"http://127.0.0.1:{MarqueeProcess.FreePort()}");
        using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
        string[] serve = ["serve", "--urls", baseAddress.ToString(), "--Marquee:Roles=web,worker"];
        var published = Path.Combine(storage.DataDir, "media", "published");

        // 1. A server transcodes the film; it is killed hard once the database shows the transcode a good way in.
        Guid titleId, assetId;
        double percentAtKill;
        var firstLogs = "";
        await using (var first = MarqueeProcess.Start(serve, environment))
        {
            await first.WaitUntilReadyAsync(baseAddress, TimeSpan.FromSeconds(60));
            // The jobs API is for operators: sign in as an admin (the cookie outlives the restart: same key ring).
            client.DefaultRequestHeaders.Add("Cookie", await MarqueeProcess.SignInAsync(baseAddress, "crash-admin@marquee.test", AdminPassword));
            var ingest = await MarqueeProcess.RunAsync(["ingest", source, "--title", "Crash Film"], environment, TimeSpan.FromMinutes(2));
            Assert.True(ingest.ExitCode == 0, ingest.Stderr + ingest.Stdout);
            titleId = Guid.Parse(ingest.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1]);

            var running = await Poll.UntilAsync(() => JobOfAsync(client, titleId),
                j => j?.GetProperty("state").GetString() is "Ready" or "Failed" or "Rejected" || Percent(j) >= 10,
                TimeSpan.FromMinutes(3), "the transcode to be under way");
            Assert.Equal("Transcoding", running!.Value.GetProperty("state").GetString());
            assetId = running.Value.GetProperty("assetId").GetGuid();
            percentAtKill = Percent(running)!.Value;
            await first.KillServerOnlyAsync();
            firstLogs = first.StandardOutput + first.StandardError;
        }

        // No ffmpeg outlives the killed server (R1): each runs inside bubblewrap with --die-with-parent.
        await Poll.UntilAsync(() => Task.FromResult(FfmpegsReading(storage.DataDir)), n => n == 0, TimeSpan.FromSeconds(15), "the killed server's ffmpeg to die with it");

        Assert.InRange(percentAtKill, 10, 95);
        Assert.False(Directory.Exists(Path.Combine(published, assetId.ToString("N"))), "a half-transcoded asset was published");
        Assert.True(Directory.Exists(Path.Combine(published, assetId.ToString("N") + ".staging")), "the kill should have left a half-written staging folder");

        // 2. Restarted: the lapsed lease is recovered, the job runs again (a second attempt) and is published whole.
        await using (var second = MarqueeProcess.Start(serve, environment))
        {
            await second.WaitUntilReadyAsync(baseAddress, TimeSpan.FromSeconds(60));
            var done = await Poll.UntilAsync(() => JobOfAsync(client, titleId),
                j => j?.GetProperty("state").GetString() is "Ready" or "Failed" or "Rejected" or "Cancelled",
                TimeSpan.FromMinutes(5), "the restarted server to finish the job");
            var logs = $"{done}\n--- first server ---\n{firstLogs}\n--- second server ---\n{second.StandardOutput}{second.StandardError}";
            Assert.True(done!.Value.GetProperty("state").GetString() == "Ready", logs);
            Assert.True(done.Value.GetProperty("attempts").GetInt32() == 2, logs); // the killed run and this one

            var (playlists, segments) = await PublishedPackage.AssertCompleteAsync(Path.Combine(published, assetId.ToString("N")));
            Assert.True(playlists >= 2 && segments >= 30, $"{playlists} playlists, {segments} segments");
            Assert.Empty(Directory.GetDirectories(published, "*.staging"));

            var issued = await MarqueeProcess.RunAsync(["playback-url", titleId.ToString(), "--ttl", "10m", "--urls", baseAddress.ToString()], environment);
            Assert.True(issued.ExitCode == 0, issued.Stderr + issued.Stdout);
            var url = issued.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
            var (code, _, error) = await Tools.RunAsync("ffmpeg", ["-nostdin", "-v", "error", "-i", url, "-map", "0", "-f", "null", "-"], timeout: TimeSpan.FromMinutes(3));
            Assert.True(code == 0 && error.Length == 0, $"ffmpeg exit {code}: {error}");
        }
    }
}
