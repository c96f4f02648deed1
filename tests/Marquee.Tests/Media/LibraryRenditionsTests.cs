using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Marquee.Media;
using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Media;

/// <summary>A published package's renditions enter the asset library (one item per rendition, with its metadata), once.</summary>
public sealed class LibraryRenditionsTests
{
    private const string Master = """
        #EXTM3U
        #EXT-X-VERSION:7
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_audio",NAME="audio_0",DEFAULT=YES,URI="audio/index.m3u8"

        #EXT-X-STREAM-INF:BANDWIDTH=3440800,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="group_audio"
        720p/index.m3u8
        """;

    [Fact]
    public async Task PublishedPackage_RenditionsBackfilledOnce_WithCodecResolutionBitrateAndPlaylistChecksum()
    {
        await using var app = await MarqueeApp.StartAsync();
        var titleId = Guid.NewGuid();
        var assetId = Guid.NewGuid();
        var folder = Path.Combine(app.DataDir, "media", "published", assetId.ToString("N"));
        var playlist = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"key://x\"\n#EXTINF:4.0,\nseg_00000.m4s\n#EXT-X-ENDLIST\n";
        foreach (var r in new[] { "720p", "audio" })
        {
            Directory.CreateDirectory(Path.Combine(folder, r));
            await File.WriteAllTextAsync(Path.Combine(folder, r, "index.m3u8"), playlist);
            await File.WriteAllBytesAsync(Path.Combine(folder, r, "init.mp4"), Encoding.ASCII.GetBytes($"init {r}"));
            await File.WriteAllBytesAsync(Path.Combine(folder, r, "seg_00000.m4s"), new byte[r == "720p" ? 4000 : 1000]);
        }

        await File.WriteAllTextAsync(Path.Combine(folder, "master.m3u8"), Master);
        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<MediaDb>();
            db.Assets.Add(new Asset { Id = assetId, TitleId = titleId, SourcePath = "x.mp4", State = AssetState.Ready, DurationMs = 8000, CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch });
            await db.SaveChangesAsync();
            return 0;
        });

        // Two workers at once (the AssetReady handler and the start-up back-fill): the handler has read the package and
        // not saved yet when the back-fill records it; its save then fails on the unique path, and nothing is doubled
        // (the handler's event is delivered again and finds the package recorded).
        await using (var handler = app.Services.CreateAsyncScope())
        {
            Assert.Equal(2, await handler.ServiceProvider.GetRequiredService<AssetLibrary>().RecordRenditionsAsync(assetId, CancellationToken.None));
            Assert.Equal(2, await app.ScopedAsync(sp => sp.GetRequiredService<AssetLibrary>().BackfillRenditionsAsync(CancellationToken.None)));
            await Assert.ThrowsAsync<Microsoft.EntityFrameworkCore.DbUpdateException>(() => handler.ServiceProvider.GetRequiredService<MediaDb>().SaveChangesAsync());
        }

        // A second run of the back-fill adds nothing.
        Assert.Equal(0, await app.ScopedAsync(sp => sp.GetRequiredService<AssetLibrary>().BackfillRenditionsAsync(CancellationToken.None)));

        var found = await app.Client.GetFromJsonAsync<JsonElement>($"/api/media/library?kind=Rendition&titleId={titleId}");
        Assert.Equal(2, found.GetProperty("total").GetInt32());
        var video = found.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("name").GetString() == "720p rendition").GetProperty("current");
        Assert.Equal("h264", video.GetProperty("videoCodec").GetString());
        Assert.Equal("aac", video.GetProperty("audioCodec").GetString());
        Assert.Equal("720p", video.GetProperty("resolution").GetString());
        Assert.Equal(8000, video.GetProperty("durationMs").GetInt64());
        var size = playlist.Length + "init 720p".Length + 4000;
        Assert.Equal(size, video.GetProperty("sizeBytes").GetInt64());
        Assert.Equal(size * 8 / 8, video.GetProperty("bitrate").GetInt64());
        var expected = Convert.ToHexStringLower(SHA256.HashData([.. Encoding.ASCII.GetBytes(playlist), .. Encoding.ASCII.GetBytes("init 720p")]));
        Assert.Equal(expected, video.GetProperty("sha256").GetString());
        var audio = found.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("name").GetString() == "audio rendition");
        Assert.Contains("audio", audio.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("audio", audio.GetProperty("current").GetProperty("resolution").GetString());

        // The tag facet finds them; the source lookup of the same pipeline asset is not confused by them.
        var tagged = await app.Client.GetFromJsonAsync<JsonElement>($"/api/media/library?tag=hls&titleId={titleId}");
        Assert.Equal(2, tagged.GetProperty("total").GetInt32());
    }
}
