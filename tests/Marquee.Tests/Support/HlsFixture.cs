using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using Marquee.Media.Contracts;

namespace Marquee.Tests.Support;

/// <summary>A published HLS package for Delivery's tests, answered by a Media contract for <see cref="TitleId"/> only.</summary>
public abstract class TestPackage : IAsyncLifetime
{
    public static readonly string[] Variants = ["360p", "240p"];

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "marquee-tests", "hls-" + Guid.NewGuid().ToString("N"));

    public Guid TitleId { get; } = Guid.NewGuid();

    public Guid AssetId { get; } = Guid.NewGuid();

    public byte[] Key { get; } = RandomNumberGenerator.GetBytes(16);

    public virtual string MasterPlaylist => "master.m3u8";

    public PackagedTitle Package => new(TitleId, AssetId, Root, MasterPlaylist, TimeSpan.FromSeconds(6));

    /// <summary>A Media contract answering this package for <see cref="TitleId"/> and nothing else.</summary>
    public IMediaPackages Media => new FixedMediaPackages(this);

    public abstract Task InitializeAsync();

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder: best effort.
        }

        return Task.CompletedTask;
    }

    private sealed class FixedMediaPackages(TestPackage fixture) : IMediaPackages
    {
        public Task<PackagedTitle?> FindPlayableAsync(Guid titleId, CancellationToken cancellationToken) =>
            Task.FromResult(titleId == fixture.TitleId ? fixture.Package : null);

        public Task<byte[]?> GetContentKeyAsync(Guid assetId, CancellationToken cancellationToken) =>
            Task.FromResult(assetId == fixture.AssetId ? (byte[]?)fixture.Key.ToArray() : null);
    }
}

/// <summary>
/// The same layout as <see cref="HlsFixture"/> written as text and random bytes, without ffmpeg: for tests of sessions and
/// tokens that never decode (they run on PostgreSQL too).
/// </summary>
public sealed class HlsStub : TestPackage
{
    public override async Task InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        await File.WriteAllTextAsync(Path.Combine(Root, "master.m3u8"),
            "#EXTM3U\n#EXT-X-VERSION:7\n" +
            "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.42c01e,mp4a.40.2\"\n360p/index.m3u8\n" +
            "#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=426x240,CODECS=\"avc1.42c015,mp4a.40.2\"\n240p/index.m3u8\n");
        for (var v = 0; v < Variants.Length; v++)
        {
            var folder = Path.Combine(Root, Variants[v]);
            Directory.CreateDirectory(folder);
            await File.WriteAllTextAsync(Path.Combine(folder, "index.m3u8"),
                "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n" +
                $"#EXT-X-MAP:URI=\"init_{v}.mp4\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"key://{AssetId}\"\n" +
                "#EXTINF:2.000000,\nseg_0.m4s\n#EXTINF:2.000000,\nseg_1.m4s\n#EXT-X-ENDLIST\n");
            await File.WriteAllBytesAsync(Path.Combine(folder, $"init_{v}.mp4"), RandomNumberGenerator.GetBytes(800));
            await File.WriteAllBytesAsync(Path.Combine(folder, "seg_0.m4s"), RandomNumberGenerator.GetBytes(4096));
            await File.WriteAllBytesAsync(Path.Combine(folder, "seg_1.m4s"), RandomNumberGenerator.GetBytes(4096));
        }
    }
}

/// <summary>
/// A real published HLS package made with ffmpeg: two fMP4 variants (360p in <c>360p/</c>, 240p in <c>240p/</c>) with
/// AAC audio, 6 s in 2 s segments; every media segment encrypted whole with AES-128-CBC (PKCS7, IV = its media sequence
/// number), the init segments clear, and <c>#EXT-X-KEY:METHOD=AES-128,URI="key://ASSET"</c> after <c>#EXT-X-MAP</c>,
/// as the Media module publishes them.
/// </summary>
public sealed class HlsFixture : TestPackage
{
    public override async Task InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        var (exit, error) = await RunAsync("/usr/bin/ffmpeg", Root,
            "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "6",
            "-filter_complex", "[0:v]split=2[a][b];[a]scale=-2:360[v0];[b]scale=-2:240[v1]",
            "-map", "[v0]", "-map", "[v1]", "-map", "1:a", "-map", "1:a",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "64k",
            "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod",
            "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", "%v/seg_%d.m4s",
            "-var_stream_map", "v:0,a:0,name:360p v:1,a:1,name:240p",
            "-master_pl_name", "master.m3u8", "%v/index.m3u8");
        if (exit != 0)
        {
            throw new InvalidOperationException($"ffmpeg could not make the test package ({exit}): {error}");
        }

        foreach (var variant in Variants)
        {
            Encrypt(Path.Combine(Root, variant, "index.m3u8"));
        }
    }

    /// <summary>Every media segment of every variant (relative paths).</summary>
    public IEnumerable<string> Segments(string variant) =>
        Directory.GetFiles(Path.Combine(Root, variant), "*.m4s").Select(f => $"{variant}/{Path.GetFileName(f)}").Order(StringComparer.Ordinal);

    private void Encrypt(string playlist)
    {
        var folder = Path.GetDirectoryName(playlist)!;
        var lines = File.ReadAllLines(playlist).ToList();
        var sequence = lines.Where(l => l.StartsWith("#EXT-X-MEDIA-SEQUENCE:", StringComparison.Ordinal))
            .Select(l => long.Parse(l["#EXT-X-MEDIA-SEQUENCE:".Length..], System.Globalization.CultureInfo.InvariantCulture))
            .FirstOrDefault();
        using var aes = Aes.Create();
        aes.Key = Key;
        foreach (var segment in lines.Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            var iv = new byte[16];
            BinaryPrimitives.WriteInt64BigEndian(iv.AsSpan(8), sequence++);
            var path = Path.Combine(folder, segment);
            File.WriteAllBytes(path, aes.EncryptCbc(File.ReadAllBytes(path), iv, PaddingMode.PKCS7));
        }

        var map = lines.FindIndex(l => l.StartsWith("#EXT-X-MAP:", StringComparison.Ordinal));
        lines.Insert(map + 1, $"#EXT-X-KEY:METHOD=AES-128,URI=\"key://{AssetId}\"");
        File.WriteAllLines(playlist, lines);
    }

    /// <summary>Runs a program (arguments as a list, never one shell string): its exit code and stderr.</summary>
    public static async Task<(int ExitCode, string Error)> RunAsync(string program, string? workingDirectory, params string[] arguments)
    {
        var (code, _, error) = await Tools.RunAsync(program, arguments, workingDirectory);
        return (code, error);
    }
}
