using System.Net;
using Marquee.Delivery.Contracts;
using Marquee.Media.Contracts;
using Marquee.Tests.Media;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Delivery;

/// <summary>A real player (ffmpeg's HLS reader) decodes the encrypted stream through Delivery's URLs: keys, rewriting and segments together.</summary>
[Trait("Category", "Media")]
public sealed class PlaybackDecodeTests(HlsFixture package) : IClassFixture<HlsFixture>
{
    [Fact]
    public async Task Ffmpeg_WhenPlayingTheManifestUrl_DecodesTheWholeEncryptedStream()
    {
        await using var app = await PlaybackHost.StartAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);

        var (exit, errors) = await HlsFixture.RunAsync("/usr/bin/ffmpeg", null,
            "-v", "error", "-i", new Uri(app.BaseAddress, session.ManifestUrl).ToString(), "-map", "0", "-f", "null", "-");

        Assert.True(exit == 0, errors);
        Assert.Equal("", errors.Trim());
    }

    [Fact]
    public async Task Ffmpeg_WhenTokenTampered_CannotPlay()
    {
        await using var app = await PlaybackHost.StartAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);

        var (exit, _) = await HlsFixture.RunAsync("/usr/bin/ffmpeg", null,
            "-v", "error", "-i", new Uri(app.BaseAddress, session.Tampered(session.ManifestUrl)).ToString(), "-f", "null", "-");

        Assert.NotEqual(0, exit);
    }
}

/// <summary>The Media module's own packager output (audio group, an IV per segment, 720p..240p) played through Delivery.</summary>
[Trait("Category", "Media")]
public sealed class MediaPackagePlaybackTests(PackagedVideo packaged) : IClassFixture<PackagedVideo>
{
    private readonly Guid titleId = Guid.NewGuid();

    private PackagedVideo Packaged => packaged;

    [Fact]
    public async Task Ffmpeg_WhenPlayingAMediaModulePackage_DecodesEveryRendition()
    {
        await using var app = await StartAsync();
        var session = await app.StartSessionAsync(titleId);

        var (exit, errors) = await HlsFixture.RunAsync("/usr/bin/ffmpeg", null,
            "-v", "error", "-i", new Uri(app.BaseAddress, session.ManifestUrl).ToString(), "-map", "0", "-f", "null", "-");

        Assert.True(exit == 0, errors);
        Assert.Equal("", errors.Trim());
    }

    [Fact]
    public async Task Session_WhenLimitedTo360_GetsNoTallerVariantButKeepsAudio()
    {
        await using var app = await StartAsync(new HeightLimit(360));
        var session = await app.StartSessionAsync(titleId);

        var master = await app.Client.GetStringAsync(session.ManifestUrl);

        Assert.DoesNotContain("720p", master, StringComparison.Ordinal);
        Assert.Contains("360p/index.m3u8", master, StringComparison.Ordinal);
        Assert.Contains("TYPE=AUDIO", master, StringComparison.Ordinal);
        var folder = packaged.Result.Folder;
        var tall = Directory.GetFiles(Path.Combine(folder, "720p"), "*.m4s").Order(StringComparer.Ordinal).First();
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.Base + "720p/" + Path.GetFileName(tall))).StatusCode);
        var (exit, errors) = await HlsFixture.RunAsync("/usr/bin/ffmpeg", null,
            "-v", "error", "-i", new Uri(app.BaseAddress, session.ManifestUrl).ToString(), "-map", "0", "-f", "null", "-");
        Assert.True(exit == 0, errors);
    }

    private Task<MarqueeApp> StartAsync(IPlaybackPolicy? policy = null) =>
        MarqueeApp.StartAsync(services: s =>
        {
            s.AddSingleton<IMediaPackages>(new Published(this));
            if (policy is not null)
            {
                s.AddSingleton(policy);
            }
        });

    private sealed class Published(MediaPackagePlaybackTests test) : IMediaPackages
    {
        public Task<PackagedTitle?> FindPlayableAsync(Guid titleId, CancellationToken cancellationToken) =>
            Task.FromResult(titleId == test.titleId
                ? new PackagedTitle(titleId, test.Packaged.AssetId, test.Packaged.Result.Folder, Path.GetFileName(test.Packaged.Result.MasterPlaylist), TimeSpan.FromSeconds(5))
                : null);

        public Task<byte[]?> GetContentKeyAsync(Guid assetId, CancellationToken cancellationToken) =>
            Task.FromResult(assetId == test.Packaged.AssetId ? (byte[]?)test.Packaged.Key : null);
    }

    private sealed class HeightLimit(int height) : IPlaybackPolicy
    {
        public Task<PlaybackDecision> EvaluateAsync(PlaybackRequest request, CancellationToken cancellationToken) =>
            Task.FromResult(PlaybackDecision.Limit(height));
    }
}
