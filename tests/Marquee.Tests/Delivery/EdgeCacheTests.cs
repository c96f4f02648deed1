using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Marquee.Analytics.Contracts;
using Marquee.Delivery.Contracts;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Delivery;

/// <summary>
/// R9 at the edge: the shipped nginx configuration (<c>deploy/nginx/marquee-edge.conf</c>, placeholders filled in) in
/// front of the real origin. Package files come from the edge's cache, one copy for every viewer, yet every request's
/// token is checked by the origin (auth_request): a tampered, expired or revoked token, or a file above the session's
/// height limit, is refused even when the file is in the cache. The negative control is the same configuration without
/// the auth request (a naive cache keyed by the file): there a tampered token is served from the cache.
/// </summary>
[Trait("Category", "ProviderFree")] // nginx and the token rules, not the database provider: the SQLite pass only
public sealed class EdgeCacheTests(EdgeCacheTests.Host host) : IClassFixture<EdgeCacheTests.Host>
{
    private HlsStub package => host.Package;

    private MarqueeApp app => host.App;

    private Edge edge => host.Edge;

    private CmcdRecorder cmcd => host.Cmcd;

    /// <summary>One origin (stub package) and one edge in front of it for the class; every test starts its own sessions.</summary>
    public sealed class Host : IAsyncLifetime
    {
        public HlsStub Package { get; } = new();

        public CmcdRecorder Cmcd { get; } = new();

        public int? Limit { get; set; }

        internal MarqueeApp App { get; private set; } = null!;

        internal Edge Edge { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            await Package.InitializeAsync();
            App = await MarqueeApp.StartAsync(
                c =>
                {
                    c["Marquee:Identity:MaxConcurrentStreams"] = "100";
                    c["Marquee:Web:KnownProxies:0"] = "127.0.0.1";
                },
                services =>
                {
                    services.AddSingleton(Package.Media);
                    services.AddSingleton<IPlaybackPolicy>(new HeightLimitFor(Package.TitleId, () => Limit));
                    services.AddSingleton<IPlaybackTelemetry>(Cmcd);
                });
            Edge = await Edge.StartAsync(App.BaseAddress, withAuth: true);
        }

        public async Task DisposeAsync()
        {
            if (Edge is not null)
            {
                await Edge.DisposeAsync();
            }

            if (App is not null)
            {
                await App.DisposeAsync();
            }

            await Package.DisposeAsync();
        }
    }

    private async Task<PlayerSession> SessionAsync(int? height = null)
    {
        host.Limit = height;
        try
        {
            return await app.StartSessionAsync(package.TitleId);
        }
        finally
        {
            host.Limit = null;
        }
    }

    [Fact]
    public async Task PackageFiles_ComeFromTheCache_OneCopyForEveryViewer_AndMatchTheOrigin()
    {
        var first = await SessionAsync();
        var second = await SessionAsync();
        var file = "240p/seg_1.m4s";

        var origin = await app.Client.GetByteArrayAsync(first.Base + file);
        var miss = await edge.Client.GetAsync(first.Base + file);
        var hit = await edge.Client.GetAsync(second.Base + file); // another viewer's token, the same file

        Assert.Equal(HttpStatusCode.OK, miss.StatusCode);
        Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
        Assert.Equal("HIT", Edge.CacheStatus(hit));
        Assert.Equal(origin, await miss.Content.ReadAsByteArrayAsync());
        Assert.Equal(origin, await hit.Content.ReadAsByteArrayAsync());
        Assert.Equal("video/iso.segment", hit.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("240p/seg_0.m4s")]
    [InlineData("240p/init_1.mp4")]
    [InlineData("master.m3u8")]
    [InlineData("240p/index.m3u8")]
    [InlineData("key")]
    public async Task TamperedToken_IsRefusedAtTheEdge_EvenForACachedFile(string file)
    {
        var session = await SessionAsync();
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync(session.Base + file)).StatusCode); // now cached, where cacheable

        var refused = await edge.Client.GetAsync(session.Tampered(session.Base + file));

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task RevokedSession_IsRefusedAtTheEdge_ForItsCachedFiles()
    {
        var session = await SessionAsync();
        var file = session.Base + "360p/seg_0.m4s";
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync(file)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync(file)).StatusCode);

        (await app.Client.PostAsync($"/api/playback/sessions/{session.Id}/revoke", null)).EnsureSuccessStatusCode();

        Assert.Equal(HttpStatusCode.Forbidden, (await edge.Client.GetAsync(file)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await edge.Client.GetAsync(session.ManifestUrl)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await edge.Client.GetAsync(session.KeyUrl)).StatusCode);
    }

    [Fact]
    public async Task SessionLimitedTo240_IsRefusedA360pFileThatAnotherViewerCached()
    {
        var unlimited = await SessionAsync();
        var limited = await SessionAsync(height: 240);
        Assert.Equal(240, limited.MaxHeight);
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync(unlimited.Base + "360p/seg_1.m4s")).StatusCode);

        Assert.Equal(HttpStatusCode.Forbidden, (await edge.Client.GetAsync(limited.Base + "360p/seg_1.m4s")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await edge.Client.GetAsync(limited.Base + "360p/init_0.mp4")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync(limited.Base + "240p/seg_1.m4s")).StatusCode);
        Assert.DoesNotContain("360p", await edge.Client.GetStringAsync(limited.ManifestUrl), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PathThatLeavesThePackage_IsRefusedAtTheEdge()
    {
        var session = await SessionAsync();

        Assert.Equal(HttpStatusCode.Forbidden, (await edge.GetRawAsync(session.Base + "..%2F..%2Fmarquee.mp4")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await edge.GetRawAsync("/api/playback/s/AAAA/240p/seg_0.m4s")).StatusCode);
    }

    [Fact]
    public async Task Cmcd_IsRecordedOncePerRequest_HitOrMiss()
    {
        var session = await SessionAsync();
        var before = cmcd.For(session.Id);
        var url = session.Base + "360p/init_0.mp4?CMCD=" + Uri.EscapeDataString("bl=2000,br=800,sid=\"edge\"");

        var miss = await edge.Client.GetAsync(url);
        var hit = await edge.Client.GetAsync(url);

        Assert.Equal(HttpStatusCode.OK, miss.StatusCode);
        Assert.Equal("HIT", Edge.CacheStatus(hit));
        Assert.Equal(before + 2, cmcd.For(session.Id));
    }

    [Fact]
    public async Task ExpiredToken_IsRefusedAtTheEdge_ForACachedFile()
    {
        await using var shortLived = await PlaybackHost.StartAsync(package, c => c["Marquee:Delivery:TokenLifetime"] = "00:00:02");
        await using var shortEdge = await Edge.StartAsync(shortLived.BaseAddress, withAuth: true);
        var session = await shortLived.StartSessionAsync(package.TitleId);
        var file = session.Base + "240p/seg_0.m4s";
        Assert.Equal(HttpStatusCode.OK, (await shortEdge.Client.GetAsync(file)).StatusCode);

        await Poll.UntilAsync(() => shortEdge.Client.GetAsync(session.ManifestUrl), r => r.StatusCode == HttpStatusCode.Forbidden, TimeSpan.FromSeconds(15), "the token to expire");

        Assert.Equal(HttpStatusCode.Forbidden, (await shortEdge.Client.GetAsync(file)).StatusCode);
    }

    [Fact]
    public async Task NegativeControl_ACacheWithoutTheAuthRequest_ServesATamperedToken()
    {
        await using var naive = await Edge.StartAsync(app.BaseAddress, withAuth: false);
        var session = await SessionAsync();
        var file = session.Base + "240p/seg_0.m4s";
        Assert.Equal(HttpStatusCode.OK, (await naive.Client.GetAsync(file)).StatusCode);

        var tampered = await naive.Client.GetAsync(session.Tampered(file));

        Assert.Equal(HttpStatusCode.OK, tampered.StatusCode); // the leak the shipped configuration closes
    }

    /// <summary>nginx with the shipped edge configuration, on a free port, in a folder of its own.</summary>
    internal sealed class Edge : IAsyncDisposable
    {
        private readonly Process process;
        private readonly string folder;

        private Edge(Process process, string folder, Uri address)
        {
            this.process = process;
            this.folder = folder;
            Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        }

        public HttpClient Client { get; }

        public static string? CacheStatus(HttpResponseMessage response) =>
            response.Headers.TryGetValues("X-Cache-Status", out var values) ? values.Single() : null;

        public Task<HttpResponseMessage> GetRawAsync(string pathAndQuery) =>
            Client.GetAsync(new Uri(Client.BaseAddress!.GetLeftPart(UriPartial.Authority) + pathAndQuery, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));

        public static async Task<Edge> StartAsync(Uri origin, bool withAuth)
        {
            var nginx = File.Exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : throw new InvalidOperationException("nginx is not installed (apt install nginx-light; scripts/test does it).");
            var folder = Directory.CreateTempSubdirectory("marquee-edge-").FullName;
            var port = FreePort();
            var shipped = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "deploy", "nginx", "marquee-edge.conf"));
            var edgeConf = shipped
                .Replace("@LISTEN@", $"127.0.0.1:{port}", StringComparison.Ordinal)
                .Replace("@ORIGIN@", $"127.0.0.1:{origin.Port}", StringComparison.Ordinal)
                .Replace("@CACHE@", Path.Combine(folder, "cache"), StringComparison.Ordinal);
            Assert.DoesNotMatch("@[A-Z]+@", string.Join('\n', edgeConf.Split('\n').Where(l => !l.TrimStart().StartsWith('#')))); // every placeholder filled in
            if (!withAuth)
            {
                var lines = edgeConf.Split('\n').Where(l => !l.TrimStart().StartsWith("auth_request", StringComparison.Ordinal)).ToList();
                edgeConf = string.Join('\n', lines).Replace("proxy_cache_key $marquee_object;", "proxy_cache_key $uri_file;", StringComparison.Ordinal)
                    .Replace("location ~ ^/api/playback/s/[^/]+/.+\\.(m4s|mp4|vtt|jpg)$ {", "location ~ ^/api/playback/s/[^/]+/(?<uri_file>.+\\.(m4s|mp4|vtt|jpg))$ {", StringComparison.Ordinal);
            }

            await File.WriteAllTextAsync(Path.Combine(folder, "edge.conf"), edgeConf);
            await File.WriteAllTextAsync(Path.Combine(folder, "nginx.conf"), $$"""
                daemon off;
                master_process off;
                worker_processes 1;
                pid {{folder}}/nginx.pid;
                error_log {{folder}}/error.log warn;
                events { worker_connections 256; }
                http {
                    access_log off;
                    client_body_temp_path {{folder}}/body;
                    proxy_temp_path {{folder}}/proxy;
                    fastcgi_temp_path {{folder}}/fastcgi;
                    uwsgi_temp_path {{folder}}/uwsgi;
                    scgi_temp_path {{folder}}/scgi;
                    include {{folder}}/edge.conf;
                }
                """);
            var start = new ProcessStartInfo(nginx) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { "-p", folder, "-c", Path.Combine(folder, "nginx.conf") })
            {
                start.ArgumentList.Add(a);
            }

            var process = Process.Start(start)!;
            var edge = new Edge(process, folder, new Uri($"http://127.0.0.1:{port}/"));
            try
            {
                await Poll.UntilAsync(
                    async () =>
                    {
                        Assert.False(process.HasExited, $"nginx exited: {await process.StandardError.ReadToEndAsync()} {ReadLog(folder)}");
                        try
                        {
                            using var tcp = new TcpClient();
                            await tcp.ConnectAsync(IPAddress.Loopback, port);
                            return true;
                        }
                        catch (SocketException)
                        {
                            return false;
                        }
                    },
                    up => up, TimeSpan.FromSeconds(20), "nginx to listen");
            }
            catch
            {
                await edge.DisposeAsync();
                throw;
            }

            return edge;
        }

        private static string ReadLog(string folder) =>
            File.Exists(Path.Combine(folder, "error.log")) ? File.ReadAllText(Path.Combine(folder, "error.log")) : "";

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        private static string RepositoryRoot()
        {
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Marquee.slnx")))
            {
                root = root.Parent;
            }

            return root?.FullName ?? throw new InvalidOperationException("The repository root (Marquee.slnx) was not found above the test binaries.");
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    internal sealed class HeightLimitFor(Guid titleId, Func<int?> height) : IPlaybackPolicy
    {
        public Task<PlaybackDecision> EvaluateAsync(PlaybackRequest request, CancellationToken cancellationToken) =>
            Task.FromResult(request.TitleId == titleId && height() is { } h ? PlaybackDecision.Limit(h) : PlaybackDecision.Allow());
    }

    public sealed class CmcdRecorder : IPlaybackTelemetry
    {
        private readonly ConcurrentDictionary<Guid, int> counts = new();

        public void Record(SegmentRequestTelemetry report) => counts.AddOrUpdate(report.SessionId, 1, (_, n) => n + 1);

        public int For(Guid sessionId) => counts.GetValueOrDefault(sessionId);
    }
}
