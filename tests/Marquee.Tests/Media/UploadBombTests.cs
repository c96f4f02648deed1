using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Marquee.Media;
using Marquee.Tests.Support;

namespace Marquee.Tests.Media;

/// <summary>
/// R14, upload bombs at the default limits: sources generated at test time (each under 256 kB on disk) that claim far
/// more than they weigh. Each is refused with its reason from the probe alone: ffmpeg is pointed at a path that does not
/// exist, so a decode would fail with another reason. Unlike <see cref="ProbeTests"/> (which lowers a limit under a
/// normal clip) these are the hostile shapes themselves.
/// </summary>
[Trait("Category", "Media")]
[Collection("Media")]
public sealed class UploadBombTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("marquee-bombs-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    public static TheoryData<string, string> Bombs() => new()
    {
        // A 16000x16000 PNG frame (31 kB: deflated zeros) in Matroska. ffprobe decodes one PNG frame to learn its pixel
        // format: -max_pixels makes the decoder refuse it from the header instead of allocating 16000x16000.
        { "png pixel flood in mkv", "16000x16000, over the limit of 7680x4320 pixels (refused from its header" },
        { "png pixel flood as cover art of an m4a", "16000x16000, over the limit of 7680x4320 pixels (refused from its header" },
        { "1000 fps", "1000 frames per second, over the limit of 120" },
        { "1 video and 499 audio streams", "500 streams, over the limit of 32" },
        { "3 frames claiming 36 h", "lasts 1:12:00:00, over the limit of 6:00:00" },
    };

    [Theory]
    [MemberData(nameof(Bombs))]
    public async Task Inspect_WhenGivenABomb_RefusesItFromTheProbeBeforeDecoding(string bomb, string reasonMentions)
    {
        var name = await MakeAsync(bomb);
        Assert.InRange(new FileInfo(Path.Combine(folder, name)).Length, 1, 256_000);
        var before = Process.GetCurrentProcess().WorkingSet64;
        var watch = Stopwatch.StartNew();

        var outcome = await new Probe(MediaSources.Options(o => o.FfmpegPath = "/nonexistent/ffmpeg")).InspectAsync(folder, name, CancellationToken.None);

        var rejected = Assert.IsType<MediaRejected>(outcome);
        Assert.Contains(reasonMentions, rejected.Reason, StringComparison.Ordinal);
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Assert.InRange(Process.GetCurrentProcess().WorkingSet64 - before, long.MinValue, 100L * 1024 * 1024); // the test process does not balloon
    }

    [Fact]
    public async Task Inspect_WhenGivenABarePng_RefusesItAsNotAnAcceptedContainer()
    {
        await File.WriteAllBytesAsync(Path.Combine(folder, "flood.png"), PixelFlood(16000, 16000));

        var rejected = Assert.IsType<MediaRejected>(await new Probe(MediaSources.Options(o => o.FfmpegPath = "/nonexistent/ffmpeg")).InspectAsync(folder, "flood.png", CancellationToken.None));

        Assert.Contains("Not a media file that can be read", rejected.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_WhenAPixelFloodIsWithinTheLimit_ProbesItsSize_SoTheHeaderCheckIsWhatRefusedTheFlood()
    {
        // The negative control: an 8000x8000 flood is refused from its header at the default limit (7680x4320), and
        // probed to its size (then refused by the plain width check) when the limit is raised to it.
        var name = await WrapAsync(8000, "flood8000.mkv");
        var options = (int side) => MediaSources.Options(o => (o.FfmpegPath, o.MaxWidth, o.MaxHeight, o.MinDuration) = ("/nonexistent/ffmpeg", side, side, TimeSpan.Zero));

        var atDefault = Assert.IsType<MediaRejected>(await new Probe(MediaSources.Options(o => o.FfmpegPath = "/nonexistent/ffmpeg")).InspectAsync(folder, name, CancellationToken.None));
        // Within the limit the probe reads the size and goes on to the full decode: ffmpeg is missing here, so that throws.
        var raised = await Assert.ThrowsAsync<InvalidOperationException>(() => new Probe(options(8000)).InspectAsync(folder, name, CancellationToken.None));
        var underIt = Assert.IsType<MediaRejected>(await new Probe(options(7999)).InspectAsync(folder, name, CancellationToken.None));

        Assert.Contains("8000x8000, over the limit of 7680x4320 pixels (refused from its header", atDefault.Reason, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/ffmpeg", raised.Message, StringComparison.Ordinal);
        Assert.Contains("8000x8000, over the limit of 7999x7999 pixels (refused from its header", underIt.Reason, StringComparison.Ordinal);
    }

    private async Task<string> MakeAsync(string bomb)
    {
        (string Name, List<string>? Args) made = bomb switch
        {
            "png pixel flood in mkv" => (await WrapAsync(16000, "flood.mkv"), null),
            "png pixel flood as cover art of an m4a" => ("cover.m4a", [
                "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-analyzeduration", "0", "-probesize", "32", "-i", Png(),
                "-t", "2", "-map", "0:a", "-map", "1:v", "-c:a", "aac", "-b:a", "8k", "-c:v", "copy", "-disposition:v", "attached_pic", Path.Combine(folder, "cover.m4a")]),
            "1000 fps" => ("fps.mp4", ["-v", "error", "-y", "-f", "lavfi", "-i", "color=black:s=64x64:r=1000", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", Path.Combine(folder, "fps.mp4")]),
            "1 video and 499 audio streams" => ("streams.mkv", ["-v", "error", "-y", "-f", "lavfi", "-t", "1.2", "-i", "color=black:s=64x64:r=5", "-f", "lavfi", "-t", "0.01", "-i", "anullsrc=r=8000:cl=mono",
                "-map", "0:v", .. Enumerable.Range(0, 499).SelectMany(_ => new[] { "-map", "1:a" }), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "pcm_s16le", Path.Combine(folder, "streams.mkv")]),
            "3 frames claiming 36 h" => ("long.mkv", ["-v", "error", "-y", "-f", "lavfi", "-i", "color=black:s=64x64:r=1/43200", "-frames:v", "3", "-c:v", "libx264", "-preset", "ultrafast", Path.Combine(folder, "long.mkv")]),
            _ => throw new ArgumentOutOfRangeException(nameof(bomb)),
        };
        if (made.Args is null)
        {
            return made.Name;
        }

        var (exit, output, error) = await Tools.RunAsync("ffmpeg", made.Args, folder, TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, $"ffmpeg made no {bomb}: {output}{error}");
        return made.Name;
    }

    /// <summary>A generated <paramref name="side"/>-square PNG copied by ffmpeg into Matroska without decoding it (no stream analysis).</summary>
    private async Task<string> WrapAsync(int side, string name)
    {
        var (exit, output, error) = await Tools.RunAsync("ffmpeg",
            ["-v", "error", "-y", "-analyzeduration", "0", "-probesize", "32", "-i", Png(side), "-c:v", "copy", "-frames:v", "1", Path.Combine(folder, name)], folder, TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, $"ffmpeg made no {name}: {output}{error}");
        return name;
    }

    private string Png(int side = 16000)
    {
        var path = Path.Combine(folder, $"flood{side}.png");
        if (!File.Exists(path))
        {
            File.WriteAllBytes(path, PixelFlood(side, side));
        }

        return path;
    }

    /// <summary>A valid 1-bit greyscale PNG of <paramref name="width"/> x <paramref name="height"/> black pixels: a few tens of kB.</summary>
    internal static byte[] PixelFlood(int width, int height)
    {
        using var idat = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[1 + ((width + 7) / 8)]; // filter byte 0, then the bits
            for (var y = 0; y < height; y++)
            {
                z.Write(row);
            }
        }

        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 1; // bit depth; colour type 0 (grey), deflate, adaptive filtering, no interlace
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", idat.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> number = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(number, data.Length);
        png.Write(number);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        png.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(number, Crc32(typed));
        png.Write(number);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
            }
        }

        return ~crc;
    }
}
