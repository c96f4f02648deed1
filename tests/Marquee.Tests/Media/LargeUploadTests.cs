using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Delivery;
using Marquee.Tests.Support;

namespace Marquee.Tests.Media;

/// <summary>
/// The issue's acceptance test: a real tus client (tus-js-client) uploads a 200 MB clip through a connection cut midway,
/// resumes from the server's offset, and the title becomes playable (published whole, and decoded through a playback session).
/// </summary>
[Trait("Category", "Media")]
[Collection("Media")]
public sealed class LargeUploadTests
{
    [Fact]
    public async Task TusJsClient_Uploads200MbClipThroughACutConnection_ResumesAtTheServersOffset_AndTheTitleBecomesPlayable()
    {
        var client = await TusClient.EnsureInstalledAsync();
        await using var app = await MarqueeApp.StartAsync(s =>
        {
            s["Marquee:Media:X264Preset"] = "ultrafast";
            s["Marquee:Media:PollInterval"] = "00:00:00.200";
            s["Marquee:Media:EncoderThreads"] = "1";
        });

        // About 200 MB of real, short video: 1080p test pattern under heavy temporal noise, nearly lossless, 3.2 s, with sound.
        var clip = Path.Combine(app.DataDir, "noisy-1080p.mp4");
        await MediaSources.FfmpegAsync(["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "3.2", "-vf", "noise=alls=30:allf=t+u", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "4", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-ac", "2", clip]);
        var size = new FileInfo(clip).Length;
        Assert.InRange(size, 180L << 20, 260L << 20);

        await using var proxy = new CuttingProxy(app.BaseAddress, cutAfterBytes: 100L << 20);
        var (exit, output) = await client.UploadAsync(new Uri(proxy.Address, "/api/media/uploads"), clip, chunkBytes: 64L << 20,
            new Dictionary<string, string>(TusClient.CookieEnvironment(app.AuthCookieHeader)) { ["TUS_TITLE"] = "Noisy pattern" }, TimeSpan.FromMinutes(5));

        Assert.True(exit == 0, output);
        Assert.Equal(1, proxy.Cuts);
        var events = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var retry = events.FindIndex(e => e.TryGetProperty("retry", out _));
        Assert.True(retry >= 0, output);
        var head = events.Skip(retry).First(e => e.TryGetProperty("head", out _)).GetProperty("head").GetInt64();
        var resumedAt = events.Skip(retry).First(e => e.TryGetProperty("patch", out _)).GetProperty("patch").GetInt64();
        Assert.True(head > 0, $"the server kept nothing before the cut: {output}");
        Assert.Equal(head, resumedAt); // resumed where the server stopped, not from 0
        Assert.Contains(events.Take(retry), e => e.TryGetProperty("patch", out var p) && p.GetInt64() == 0); // it had started at 0

        var job = await Poll.UntilAsync(async () => (await app.Client.GetFromJsonAsync<JsonElement[]>("/api/media/assets"))!.SingleOrDefault(),
            j => j.ValueKind == JsonValueKind.Object && j.GetProperty("state").GetString() is "Ready" or "Failed" or "Rejected",
            TimeSpan.FromMinutes(5), "the uploaded clip to be transcoded");
        Assert.True(job.GetProperty("state").GetString() == "Ready", job.ToString());
        var assetId = job.GetProperty("assetId").GetGuid();
        var titleId = job.GetProperty("titleId").GetGuid();
        await PublishedPackage.AssertCompleteAsync(Path.Combine(app.DataDir, "media", "published", assetId.ToString("N")));

        var (url, problem) = await DeliveryModule.IssueOperatorUrlAsync(app.Services, titleId, TimeSpan.FromMinutes(10), app.BaseAddress, "tests", CancellationToken.None);
        Assert.True(url is not null, problem);
        var (code, _, error) = await Tools.RunAsync("ffmpeg", ["-nostdin", "-v", "error", "-i", url.ToString(), "-map", "0", "-f", "null", "-"], timeout: TimeSpan.FromMinutes(3));
        Assert.True(code == 0 && error.Length == 0, $"ffmpeg exit {code}: {error}");
        var probed = await MediaSources.FfprobeAsync("-show_entries", "format=duration", "-of", "csv=p=0", clip);
        Assert.InRange(double.Parse(probed.Output.Trim(), CultureInfo.InvariantCulture), 3.0, 3.5);
    }
}
