using Marquee.Tests.Support;

namespace Marquee.Tests.Media;

/// <summary><c>marquee ingest FILE --wait</c>, run as the real program.</summary>
[Trait("Category", "Media")]
public sealed class IngestCommandTests
{
    private static Task<string> MakeClipAsync(string folder) => Tools.MakeClipAsync(Path.Combine(folder, "pattern.mp4"));

    [Fact]
    public async Task Ingest_WhenWaitingOnAGoodFile_ExitsZeroWhenPlayableAndPrintsTheTitleId()
    {
        await using var storage = await TestStorage.CreateAsync();
        var clip = await MakeClipAsync(storage.DataDir);

        var (code, stdout, stderr) = await MarqueeProcess.RunAsync(
            ["ingest", clip, "--title", "Test Pattern", "--kind", "film", "--wait"], storage.Environment(), TimeSpan.FromMinutes(3));

        Assert.True(code == 0, stderr + stdout);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(Guid.TryParse(lines[^1], out var titleId), stdout);
        Assert.Contains($"/watch/{titleId}", stdout, StringComparison.Ordinal);
        var published = Directory.GetDirectories(Path.Combine(storage.DataDir, "media", "published")).Single();
        Assert.True(File.Exists(Path.Combine(published, "master.m3u8")));
        Assert.Empty(Directory.GetDirectories(Path.Combine(storage.DataDir, "media", "published"), "*.staging"));
    }

    [Fact]
    public async Task IngestThenPlaybackUrl_FromTheShell_FfmpegDecodesTheWholeEncryptedStream()
    {
        await using var storage = await TestStorage.CreateAsync();
        var clip = await MakeClipAsync(storage.DataDir);
        var ingest = await MarqueeProcess.RunAsync(["ingest", clip, "--title", "Shell Film", "--wait"], storage.Environment(), TimeSpan.FromMinutes(3));
        Assert.True(ingest.ExitCode == 0, ingest.Stderr + ingest.Stdout);
        var titleId = ingest.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
        await using var server = await MarqueeApp.StartAsync(storage: storage);

        var issued = await MarqueeProcess.RunAsync(["playback-url", titleId, "--ttl", "5m", "--urls", server.BaseAddress.ToString()], storage.Environment());
        Assert.True(issued.ExitCode == 0, issued.Stderr + issued.Stdout);
        var url = issued.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
        Assert.StartsWith(server.BaseAddress.ToString().TrimEnd('/') + "/api/playback/s/", url, StringComparison.Ordinal);

        var (exit, _, errors) = await Tools.RunAsync("ffmpeg", ["-v", "error", "-i", url, "-map", "0", "-f", "null", "-"]);
        Assert.True(exit == 0, errors);
        Assert.Equal("", errors.Trim());
    }

    [Theory]
    [InlineData("not media at all", "rejected")]
    public async Task Ingest_WhenWaitingOnGarbage_ExitsOneWithTheReason(string content, string expected)
    {
        await using var storage = await TestStorage.CreateAsync();
        var file = Path.Combine(storage.DataDir, "renamed.mp4");
        await File.WriteAllTextAsync(file, content);

        var (code, _, stderr) = await MarqueeProcess.RunAsync(["ingest", file, "--wait"], storage.Environment(), TimeSpan.FromMinutes(2));

        Assert.Equal(1, code);
        Assert.Contains($"marquee: {expected}: Not a media file", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingest_WhenFileIsEmpty_ExitsTwoAndCreatesNoTitle()
    {
        await using var storage = await TestStorage.CreateAsync();
        var file = Path.Combine(storage.DataDir, "empty.mp4");
        await File.WriteAllBytesAsync(file, []);

        var (code, _, stderr) = await MarqueeProcess.RunAsync(["ingest", file, "--title", "Nothing"], storage.Environment());
        await using var app = await MarqueeApp.StartAsync(storage: storage);
        var titles = await app.Client.GetStringAsync("/api/catalog/titles");

        Assert.Equal(2, code);
        Assert.Contains("is empty: a zero-length file has nothing to play", stderr, StringComparison.Ordinal);
        Assert.Equal("[]", titles);
    }

    [Fact]
    public async Task Ingest_WhenTitleIdUnknown_ExitsTwo()
    {
        await using var storage = await TestStorage.CreateAsync();
        var clip = await MakeClipAsync(storage.DataDir);

        var (code, _, stderr) = await MarqueeProcess.RunAsync(["ingest", clip, "--title-id", Guid.NewGuid().ToString()], storage.Environment());

        Assert.Equal(2, code);
        Assert.Contains("marquee: There is no title", stderr, StringComparison.Ordinal);
    }
}
