using System.Net;
using System.Net.Http.Headers;
using Marquee.Delivery.Contracts;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Delivery;

/// <summary>Manifests, keys and segments behind the signed path token, over the real HTTP server (stub package: no decoding here).</summary>
public sealed class PlaybackTokenTests(HlsStub package, SharedPlaybackHost shared) : IClassFixture<HlsStub>, IClassFixture<SharedPlaybackHost>
{
    [Fact]
    public async Task Master_WhenSessionUnlimited_ListsEveryVariantAndIsNotCached()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);

        var response = await app.Client.GetAsync(session.ManifestUrl);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/vnd.apple.mpegurl", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl is { Private: true, NoStore: true }, response.Headers.CacheControl?.ToString());
        var master = await response.Content.ReadAsStringAsync();
        Assert.Contains("360p/index.m3u8", master, StringComparison.Ordinal);
        Assert.Contains("240p/index.m3u8", master, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MediaPlaylist_WhenFetched_PointsTheKeyAtTheSessionsKeyUrl()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);

        var response = await app.Client.GetAsync(session.Base + "240p/index.m3u8");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.CacheControl is { Private: true, NoStore: true }, response.Headers.CacheControl?.ToString());
        var playlist = await response.Content.ReadAsStringAsync();
        Assert.Contains($"#EXT-X-KEY:METHOD=AES-128,URI=\"{session.KeyUrl}\"", playlist, StringComparison.Ordinal);
        Assert.DoesNotContain("key://", playlist, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Key_WhenSessionLive_Answers16RawBytesNeverCached()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);

        var response = await app.Client.GetAsync(session.KeyUrl);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl is { Private: true, NoStore: true }, response.Headers.CacheControl?.ToString());
        Assert.Equal(package.Key, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Segment_WhenFetched_HasMediaTypeAndIsEdgeCacheable()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);

        var segment = await app.Client.GetAsync(session.Base + "360p/seg_1.m4s");
        var init = await app.Client.GetAsync(session.Base + "360p/init_0.mp4");

        Assert.Equal(HttpStatusCode.OK, segment.StatusCode);
        Assert.Equal("video/iso.segment", segment.Content.Headers.ContentType?.MediaType);
        Assert.Equal("public, max-age=31536000, immutable", segment.Headers.CacheControl?.ToString());
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(package.Root, "360p", "seg_1.m4s")), await segment.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, init.StatusCode);
        Assert.Equal("video/mp4", init.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Segment_WhenFetchedWhole_CarriesLengthLastModifiedAndAnswers304WhenUnchanged()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);
        var file = new FileInfo(Path.Combine(package.Root, "360p", "seg_1.m4s"));

        var whole = await app.Client.GetAsync(session.Base + "360p/seg_1.m4s");

        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal(file.Length, whole.Content.Headers.ContentLength);
        Assert.Equal("bytes", whole.Headers.AcceptRanges.Single());
        var lastModified = whole.Content.Headers.LastModified;
        Assert.NotNull(lastModified);
        Assert.True((file.LastWriteTimeUtc - lastModified.Value.UtcDateTime).Duration() < TimeSpan.FromSeconds(1));

        using var again = new HttpRequestMessage(HttpMethod.Get, session.Base + "360p/seg_1.m4s");
        again.Headers.IfModifiedSince = lastModified;
        var notModified = await app.Client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Theory]
    [InlineData("master.m3u8")]
    [InlineData("key")]
    [InlineData("360p/index.m3u8")]
    [InlineData("360p/seg_0.m4s")]
    [InlineData("360p/init_0.mp4")]
    public async Task Request_WhenTokenTampered_Answers403Problem(string file)
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(session.Base + file)).StatusCode);

        var response = await app.Client.GetAsync(session.Tampered(session.Base + file));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("(((")] // outside base64url: once a FormatException and a 500 (found by ParserPropertyTests)
    [InlineData("a+b/c=")]
    [InlineData("%28%29%2A")]
    [InlineData("AAAA====")]
    public async Task Request_WhenTokenIsNotBase64Url_Answers403Problem(string token)
    {
        var app = await shared.GetAsync(package);

        var response = await app.GetRawAsync($"/api/playback/s/{token}/master.m3u8");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Request_WhenTokenExpired_Answers403()
    {
        await using var app = await PlaybackHost.StartAsync(package, c => c["Marquee:Delivery:TokenLifetime"] = "00:00:02");
        var session = await app.StartSessionAsync(package.TitleId);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(session.Base + "240p/seg_0.m4s")).StatusCode);

        await Poll.UntilAsync(() => app.Client.GetAsync(session.ManifestUrl), r => r.StatusCode == HttpStatusCode.Forbidden, TimeSpan.FromSeconds(10), "the token to expire");

        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.KeyUrl)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.Base + "240p/seg_0.m4s")).StatusCode);
    }

    [Fact]
    public async Task Session_WhenLimitedTo240_GetsNo360pVariantAndIsRefused360pFiles()
    {
        await using var app = await PlaybackHost.StartAsync(package, policy: new HeightLimit(240));
        var session = await app.StartSessionAsync(package.TitleId);

        var master = await app.Client.GetStringAsync(session.ManifestUrl);

        Assert.Equal(240, session.MaxHeight);
        Assert.DoesNotContain("360p", master, StringComparison.Ordinal);
        Assert.DoesNotContain("x360", master, StringComparison.Ordinal);
        Assert.Contains("240p/index.m3u8", master, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.Base + "360p/seg_0.m4s")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.Base + "360p/init_0.mp4")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.Base + "360p/index.m3u8")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(session.Base + "240p/seg_0.m4s")).StatusCode);
    }

    [Fact]
    public async Task StartSession_WhenLimitBelowEveryVariant_Answers403ProblemWithReason()
    {
        await using var app = await PlaybackHost.StartAsync(package, policy: new HeightLimit(144));

        var response = await app.PostJsonAsync("/api/playback/sessions", new { titleId = package.TitleId });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var problem = await response.JsonAsync<System.Text.Json.JsonElement>();
        Assert.Contains("144p", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Segment_WhenRangeRequested_Answers206WithContentRange()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);
        var whole = await File.ReadAllBytesAsync(Path.Combine(package.Root, "360p", "seg_0.m4s"));

        using var request = new HttpRequestMessage(HttpMethod.Get, session.Base + "360p/seg_0.m4s");
        request.Headers.Range = new RangeHeaderValue(100, 199);
        var response = await app.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal($"bytes 100-199/{whole.Length}", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(whole[100..200], await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("../../marquee.db")]
    [InlineData("%2e%2e/%2e%2e/marquee.db")]
    [InlineData("360p/%2e%2e/%2e%2e/%2e%2e/marquee.db")]
    [InlineData("..%2F..%2Fmarquee.db")]
    [InlineData("360p%2F..%2F..%2F..%2Fmarquee.db")]
    [InlineData("..%5C..%5Cmarquee.db")]
    [InlineData("%2Fetc%2Fpasswd")]
    [InlineData("360p/seg_0.m4s%00.db")]
    public async Task File_WhenPathTraverses_NeverServesAnythingOutsideThePackage(string path)
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);
        // Something worth stealing next to the package and in the data folder.
        await File.WriteAllTextAsync(Path.Combine(Path.GetDirectoryName(package.Root)!, "marquee.db"), "SECRET");

        var response = await app.GetRawAsync(session.Base + path);

        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.Forbidden, HttpStatusCode.NotFound, HttpStatusCode.BadRequest });
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("SECRET", body, StringComparison.Ordinal);
        Assert.DoesNotContain("SQLite format", body, StringComparison.Ordinal);
        Assert.DoesNotContain("root:", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("360p/seg_0.m4s?CMCD=bl%3D21300%2Cbr%3D3200%2Cd%3D4004%2Cot%3Dv%2Csid%3D%226e2fb550%22")]
    [InlineData("master.m3u8?CMCD=ot%3Dm%2Csid%3D%226e2fb550%22")]
    [InlineData("key?CMCD=ot%3Dk")]
    public async Task Request_WhenCmcdQueryParameterPresent_Answers200(string file)
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);

        var response = await app.GetRawAsync(session.Base + file);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Segment_WhenOriginAllowed_CarriesCorsHeaderAndOtherOriginsDoNot()
    {
        await using var app = await PlaybackHost.StartAsync(package, c => c["Marquee:Delivery:AllowedOrigins:0"] = "https://player.example.com");
        var session = await app.StartSessionAsync(package.TitleId);

        var allowed = await GetWithOriginAsync(app, session.Base + "360p/seg_0.m4s", "https://player.example.com");
        var other = await GetWithOriginAsync(app, session.Base + "360p/seg_0.m4s", "https://evil.example.net");

        Assert.Equal("https://player.example.com", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode); // CORS is the browser's to enforce; the token is the authorisation
    }

    [Fact]
    public async Task Segment_WhenNoOriginsConfigured_SendsNoCorsHeader()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);

        var response = await GetWithOriginAsync(app, session.Base + "360p/seg_0.m4s", "https://player.example.com");

        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Preflight_WhenOriginAllowed_AllowsGetAndRange()
    {
        await using var app = await PlaybackHost.StartAsync(package, c => c["Marquee:Delivery:AllowedOrigins:0"] = "https://player.example.com");
        var session = await app.StartSessionAsync(package.TitleId);

        using var request = new HttpRequestMessage(HttpMethod.Options, session.Base + "360p/seg_0.m4s");
        request.Headers.Add("Origin", "https://player.example.com");
        request.Headers.Add("Access-Control-Request-Method", "GET");
        request.Headers.Add("Access-Control-Request-Headers", "range");
        var response = await app.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("https://player.example.com", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("Range", response.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_WhenHostRestartsOnTheSameDataFolder_StillWorksAndItsSecretIsPrivate()
    {
        await using var storage = await TestStorage.CreateAsync();
        string manifest;
        await using (var first = await MarqueeApp.StartAsync(services: s => s.AddSingleton(package.Media), storage: storage))
        {
            manifest = (await first.StartSessionAsync(package.TitleId)).ManifestUrl;
        }

        await using var second = await MarqueeApp.StartAsync(services: s => s.AddSingleton(package.Media), storage: storage);

        Assert.Equal(HttpStatusCode.OK, (await second.Client.GetAsync(manifest)).StatusCode);
        var secret = Path.Combine(storage.DataDir, "keys", "playback-token.key");
        Assert.True(new FileInfo(secret).Length > 32, "the secret should be stored encrypted by the key ring, not as its 32 raw bytes");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secret));
        }
    }

    [Fact]
    public async Task Secret_WhenWrittenInClearByAnEarlierVersion_IsEncryptedInPlaceAndKeepsWorking()
    {
        await using var storage = await TestStorage.CreateAsync();
        var secret = Path.Combine(storage.DataDir, "keys", "playback-token.key");
        Directory.CreateDirectory(Path.GetDirectoryName(secret)!);
        var clear = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        await File.WriteAllBytesAsync(secret, clear);
        string manifest;
        await using (var first = await MarqueeApp.StartAsync(services: s => s.AddSingleton(package.Media), storage: storage))
        {
            manifest = (await first.StartSessionAsync(package.TitleId)).ManifestUrl;
            Assert.Equal(HttpStatusCode.OK, (await first.Client.GetAsync(manifest)).StatusCode);
        }

        var stored = await File.ReadAllBytesAsync(secret);
        Assert.NotEqual(32, stored.Length);
        Assert.False(stored.AsSpan().IndexOf(clear) >= 0, "the clear secret is still in the file");
        await using var second = await MarqueeApp.StartAsync(services: s => s.AddSingleton(package.Media), storage: storage);
        Assert.Equal(HttpStatusCode.OK, (await second.Client.GetAsync(manifest)).StatusCode);
    }

    private static async Task<HttpResponseMessage> GetWithOriginAsync(MarqueeApp app, string url, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Add("Origin", origin);
        return await app.Client.SendAsync(request);
    }

    private sealed class HeightLimit(int height) : IPlaybackPolicy
    {
        public Task<PlaybackDecision> EvaluateAsync(PlaybackRequest request, CancellationToken cancellationToken) =>
            Task.FromResult(PlaybackDecision.Limit(height));
    }
}
