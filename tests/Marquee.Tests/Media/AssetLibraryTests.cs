using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Marquee.Media.Contracts;
using Marquee.Platform.Web;
using Marquee.Tests.Catalog;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Media;

/// <summary><c>/api/media/library</c>: files with versions, SHA-256, ffprobe's metadata, tags and facets; pipeline sources enter by themselves.</summary>
public sealed class AssetLibraryTests
{
    /// <summary>A valid WAV of <paramref name="seconds"/> of silence (8 kHz, mono, 16-bit): media ffprobe reads, made without ffmpeg.</summary>
    internal static byte[] Wav(int seconds)
    {
        const int rate = 8000;
        var data = rate * 2 * seconds;
        using var stream = new MemoryStream();
        using var w = new BinaryWriter(stream);
        w.Write("RIFF"u8);
        w.Write(36 + data);
        w.Write("WAVEfmt "u8);
        w.Write(16);
        w.Write((short)1);
        w.Write((short)1);
        w.Write(rate);
        w.Write(rate * 2);
        w.Write((short)2);
        w.Write((short)16);
        w.Write("data"u8);
        w.Write(data);
        w.Write(new byte[data]);
        w.Flush();
        return stream.ToArray();
    }

    private static async Task<JsonElement> AddAsync(HttpClient client, byte[] content, string fileName, string kind, Guid? titleId = null, string? tags = null, HttpStatusCode expected = HttpStatusCode.Created)
    {
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(content), "file", fileName },
            { new StringContent(kind), "kind" },
        };
        if (titleId is { } t)
        {
            form.Add(new StringContent(t.ToString()), "titleId");
        }

        if (tags is not null)
        {
            form.Add(new StringContent(tags), "tags");
        }

        var response = await client.PostAsync("/api/media/library", form);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{response.StatusCode}: {body}");
        return JsonSerializer.Deserialize<JsonElement>(body);
    }

    private static async Task<JsonElement> SearchAsync(HttpClient client, string query) =>
        await client.GetFromJsonAsync<JsonElement>("/api/media/library" + query);

    private static int Facet(JsonElement result, string facet, string value) =>
        result.GetProperty("facets").GetProperty(facet).EnumerateArray().Where(f => f.GetProperty("value").GetString() == value).Select(f => f.GetProperty("count").GetInt32()).SingleOrDefault();

    [Fact]
    public async Task Files_GetVersionsChecksumsProbeMetadataTags_AndFacetedSearch_AndRejectedSourcesEnterByThemselves()
    {
        await using var app = await MarqueeApp.StartAsync(s => s["Marquee:Media:PollInterval"] = "00:00:00.100");
        var film = await app.CreateTitleAsync("Library Film");
        var other = await app.CreateTitleAsync("Other Film");

        // A script: stored with its checksum, no technical metadata (ffprobe is not asked).
        var script = Encoding.UTF8.GetBytes("INT. SPACESHIP - NIGHT\nCOOPER: We go.\n");
        var added = await AddAsync(app.Client, script, "draft.fountain", "Script", film, "draft, English ");
        var scriptId = added.GetProperty("id").GetGuid();
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(script)), added.GetProperty("current").GetProperty("sha256").GetString());
        Assert.Equal(1, added.GetProperty("current").GetProperty("number").GetInt32());
        Assert.Equal(JsonValueKind.Null, added.GetProperty("current").GetProperty("container").ValueKind);
        Assert.Equal(["draft", "english"], added.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToArray());

        // A second version: current, the first kept.
        var revised = Encoding.UTF8.GetBytes("INT. SPACESHIP - NIGHT\nCOOPER: We go now.\n");
        using (var form = new MultipartFormDataContent { { new ByteArrayContent(revised), "file", "draft2.fountain" } })
        {
            var response = await app.Client.PostAsync($"/api/media/library/{scriptId}/versions", form);
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        }

        var item = await app.Client.GetFromJsonAsync<JsonElement>($"/api/media/library/{scriptId}");
        Assert.Equal(2, item.GetProperty("current").GetProperty("number").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(revised)), item.GetProperty("current").GetProperty("sha256").GetString());
        Assert.Equal([2, 1], item.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("number").GetInt32()).ToArray());
        Assert.True(File.Exists(Path.Combine(app.DataDir, "media", "library", scriptId.ToString("N"), "v1.fountain")));

        // A trailer's audio: ffprobe's metadata (through the confined probe).
        var trailer = await AddAsync(app.Client, Wav(2), "teaser.wav", "Trailer", other, "teaser");
        var current = trailer.GetProperty("current");
        Assert.Equal("wav", current.GetProperty("container").GetString());
        Assert.Equal("pcm_s16le", current.GetProperty("audioCodec").GetString());
        Assert.InRange(current.GetProperty("durationMs").GetInt64(), 1900, 2100);
        Assert.Equal("audio", current.GetProperty("resolution").GetString());

        // Bad input leaves nothing behind.
        var bad = await AddAsync(app.Client, script, "x.txt", "Poster", film, expected: HttpStatusCode.BadRequest);
        Assert.Contains("kind", bad.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await AddAsync(app.Client, script, "x.txt", "Script", Guid.NewGuid(), expected: HttpStatusCode.NotFound);
        Assert.Equal(2, (await SearchAsync(app.Client, "")).GetProperty("total").GetInt32());

        // A source the pipeline rejects enters the library as a Rejected source of its title, with its checksum and reason.
        var junk = Path.Combine(app.DataDir, "junk.mp4");
        await File.WriteAllBytesAsync(junk, Encoding.UTF8.GetBytes("not a film at all"));
        await app.ScopedAsync(sp => sp.GetRequiredService<IMediaIngest>().IngestFileAsync(junk, film, new RequestActor("tests", null), CancellationToken.None));
        var rejected = await Poll.UntilAsync(() => SearchAsync(app.Client, "?status=Rejected"), r => r.GetProperty("total").GetInt32() == 1,
            TimeSpan.FromSeconds(30), "the rejected source in the library");
        var source = rejected.GetProperty("items")[0];
        Assert.Equal("Source", source.GetProperty("kind").GetString());
        Assert.Equal(film, source.GetProperty("titleId").GetGuid());
        Assert.False(string.IsNullOrEmpty(source.GetProperty("note").GetString()));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("not a film at all"))), source.GetProperty("current").GetProperty("sha256").GetString());

        // Facets: each counted with the other filters applied.
        var all = await SearchAsync(app.Client, "");
        Assert.Equal(3, all.GetProperty("total").GetInt32());
        Assert.Equal(1, Facet(all, "kind", "Script"));
        Assert.Equal(1, Facet(all, "kind", "Trailer"));
        Assert.Equal(1, Facet(all, "kind", "Source"));
        Assert.Equal(1, Facet(all, "codec", "pcm_s16le"));
        Assert.Equal(2, Facet(all, "title", film.ToString()));
        var ofFilm = await SearchAsync(app.Client, $"?titleId={film}");
        Assert.Equal(2, ofFilm.GetProperty("total").GetInt32());
        Assert.Equal(0, Facet(ofFilm, "codec", "pcm_s16le"));
        Assert.Equal(1, Facet(ofFilm, "title", other.ToString())); // the title facet ignores its own filter
        var byTag = await SearchAsync(app.Client, "?tag=teaser&resolution=audio&kind=Trailer&codec=pcm_s16le&status=Active");
        Assert.Equal("teaser.wav", byTag.GetProperty("items").EnumerateArray().Single().GetProperty("name").GetString());
        Assert.Equal(0, (await SearchAsync(app.Client, "?tag=teaser&kind=Script")).GetProperty("total").GetInt32());

        // Rights reads deliveries through Media's contract.
        var deliveries = await app.ScopedAsync(sp => sp.GetRequiredService<IAssetLibrary>().DeliveriesAsync([film, other], CancellationToken.None));
        Assert.Equal(1, deliveries.Single(d => d.TitleId == film).Rejected);
        Assert.Null(deliveries.Single(d => d.TitleId == film).FirstDeliveredAt);

        // The console page shows the facets and the files.
        var page = await app.Client.GetStringAsync($"/console/media/library?kind=Trailer");
        Assert.Contains("teaser.wav", page, StringComparison.Ordinal);
        Assert.DoesNotContain("draft.fountain", page, StringComparison.Ordinal);
        Assert.Contains("data-facet=\"codec\"", page, StringComparison.Ordinal);
        var viewer = await app.ClientWithRolesAsync();
        Assert.NotEqual(HttpStatusCode.OK, (await viewer.GetAsync("/api/media/library")).StatusCode);
    }
}
