using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Marquee.Media.Contracts;
using Marquee.Platform.Web;
using Marquee.Tests.Delivery;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Media;

/// <summary><c>/api/media/titles/{id}/subtitles</c>: uploads checked and converted by ffmpeg, kept for publication or added to the published package.</summary>
[Trait("Category", "Media")]
[Collection("Media")]
public sealed class SubtitleApiTests
{
    private const string GoodSrt = "1\n00:00:01,000 --> 00:00:06,000\nBonjour\n\n2\n00:00:06,500 --> 00:00:07,500\nAu revoir\n";

    private static void Settings(IDictionary<string, string?> settings)
    {
        settings["Marquee:Media:X264Preset"] = "ultrafast";
        settings["Marquee:Media:PollInterval"] = "00:00:00.100";
        settings["Marquee:Media:EncoderThreads"] = "1";
        settings["Marquee:Media:MaxSubtitleBytes"] = "4096";
    }

    private static async Task<Guid> NewTitleAsync(MarqueeApp app)
    {
        var created = await (await app.Client.PostAsJsonAsync("/api/catalog/titles", new { name = "Subtitled", kind = "Film" })).Content.ReadFromJsonAsync<JsonElement>();
        return created.GetProperty("id").GetGuid();
    }

    private static Task<HttpResponseMessage> UploadAsync(MarqueeApp app, Guid titleId, string fileName, string content, string? language, string? label = null)
    {
        var form = new MultipartFormDataContent();
        form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes(content)), "file", fileName);
        if (language is not null)
        {
            form.Add(new StringContent(language), "language");
        }

        if (label is not null)
        {
            form.Add(new StringContent(label), "label");
        }

        return app.Client.PostAsync($"/api/media/titles/{titleId}/subtitles", form);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailContains)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonSerializer.Deserialize<JsonElement>(body);
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.True(problem.TryGetProperty("detail", out var detail) && detail.GetString()!.Contains(detailContains, StringComparison.Ordinal), body);
    }

    [Fact]
    public async Task Upload_WhenBadInput_AnswersProblemDetailsAndKeepsNothing()
    {
        await using var app = await MarqueeApp.StartAsync(Settings);
        var titleId = await NewTitleAsync(app);

        await AssertProblemAsync(await UploadAsync(app, titleId, "garbage.srt", "this is\nnot a subtitle file\n", "en"), HttpStatusCode.BadRequest, "No subtitle cue");
        await AssertProblemAsync(await UploadAsync(app, titleId, "film.ass", GoodSrt, "en"), HttpStatusCode.BadRequest, ".srt");
        await AssertProblemAsync(await UploadAsync(app, titleId, "fr.srt", GoodSrt, "not a language"), HttpStatusCode.BadRequest, "BCP 47");
        await AssertProblemAsync(await UploadAsync(app, titleId, "fr.srt", GoodSrt, null), HttpStatusCode.BadRequest, "BCP 47");
        await AssertProblemAsync(await UploadAsync(app, titleId, "fr.srt", "", "fr"), HttpStatusCode.BadRequest, "empty");
        await AssertProblemAsync(await UploadAsync(app, titleId, "big.srt", GoodSrt + new string('x', 5000), "fr"), HttpStatusCode.RequestEntityTooLarge, "4,096");
        await AssertProblemAsync(await UploadAsync(app, Guid.NewGuid(), "fr.srt", GoodSrt, "fr"), HttpStatusCode.NotFound, "no title");
        await AssertProblemAsync(await app.Client.PostAsJsonAsync($"/api/media/titles/{titleId}/subtitles", new { language = "fr" }), HttpStatusCode.UnsupportedMediaType, "multipart");
        using (var crossSite = new HttpRequestMessage(HttpMethod.Post, $"/api/media/titles/{titleId}/subtitles"))
        {
            crossSite.Headers.Add("Sec-Fetch-Site", "cross-site");
            crossSite.Content = new MultipartFormDataContent { { new StringContent(GoodSrt), "file", "fr.srt" }, { new StringContent("fr"), "language" } };
            await AssertProblemAsync(await app.Client.SendAsync(crossSite), HttpStatusCode.Forbidden, "console");
        }

        Assert.Empty(await app.Client.GetFromJsonAsync<JsonElement[]>($"/api/media/titles/{titleId}/subtitles") ?? []);
        var incoming = Path.Combine(app.DataDir, "media", "subtitles", ".incoming");
        Assert.Empty(Directory.Exists(incoming) ? Directory.GetFiles(incoming) : []);
    }

    [Fact]
    public async Task Upload_WhenUnpublishedTitle_IsConvertedKeptListedReplacedAndDeleted()
    {
        await using var app = await MarqueeApp.StartAsync(Settings);
        var titleId = await NewTitleAsync(app);

        var created = await UploadAsync(app, titleId, "french.srt", GoodSrt, "FR", "Français (SDH)");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal($"/api/media/titles/{titleId}/subtitles/fr", created.Headers.Location?.ToString());
        var stored = Path.Combine(app.DataDir, "media", "subtitles", titleId.ToString("N"), "fr.vtt");
        var vtt = await File.ReadAllTextAsync(stored);
        Assert.StartsWith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n", vtt, StringComparison.Ordinal);
        Assert.Contains("00:01.000 --> 00:06.000\nBonjour", vtt, StringComparison.Ordinal);

        // The same language again replaces it; a WebVTT upload is accepted as well.
        Assert.Equal(HttpStatusCode.Created, (await UploadAsync(app, titleId, "fr.vtt", "WEBVTT\n\n00:00:02.000 --> 00:00:03.000\nSalut\n", "fr", "Français")).StatusCode);
        Assert.Contains("Salut", await File.ReadAllTextAsync(stored), StringComparison.Ordinal);
        var list = await app.Client.GetFromJsonAsync<JsonElement[]>($"/api/media/titles/{titleId}/subtitles");
        var only = Assert.Single(list!);
        Assert.Equal("fr", only.GetProperty("language").GetString());
        Assert.Equal("Français", only.GetProperty("label").GetString());

        var audit = await app.Client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit?action=media.subtitles-uploaded");
        Assert.Equal(2, audit!.Count(e => e.GetProperty("target").GetString() == $"title:{titleId}"));

        Assert.Equal(HttpStatusCode.NoContent, (await app.Client.DeleteAsync($"/api/media/titles/{titleId}/subtitles/fr")).StatusCode);
        Assert.False(File.Exists(stored));
        Assert.Empty((await app.Client.GetFromJsonAsync<JsonElement[]>($"/api/media/titles/{titleId}/subtitles"))!);
        await AssertProblemAsync(await app.Client.DeleteAsync($"/api/media/titles/{titleId}/subtitles/fr"), HttpStatusCode.NotFound, "no uploaded subtitles");
    }

    [Fact]
    public async Task Upload_WhenPublished_DeliveryServesTheRenditionThroughTheTokenOnlyAndSeesEachChange()
    {
        await using var app = await MarqueeApp.StartAsync(Settings);
        var titleId = await NewTitleAsync(app);
        // Uploaded before publication: the package gets it when it is published.
        Assert.Equal(HttpStatusCode.Created, (await UploadAsync(app, titleId, "fr.srt", GoodSrt, "fr")).StatusCode);
        var clip = await TrackSources.MakeAsync(Path.Combine(app.DataDir, "tracks.mkv"));
        var status = await app.ScopedAsync(async sp =>
        {
            var ingest = sp.GetRequiredService<IMediaIngest>();
            var queued = await ingest.IngestFileAsync(clip, titleId, new RequestActor("tests", null), CancellationToken.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            return await ingest.WaitAsync(queued.AssetId, null, timeout.Token);
        });
        Assert.True(status.State == AssetState.Ready, $"{status.State}: {status.Reason}");

        var session = await app.StartSessionAsync(titleId);
        var master = await Poll.UntilAsync(() => app.Client.GetStringAsync(session.ManifestUrl), m => m.Contains("LANGUAGE=\"fr\",NAME=\"Français\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the uploaded subtitles in the published master");
        Assert.Contains("TYPE=SUBTITLES,GROUP-ID=\"subs\",LANGUAGE=\"en\",NAME=\"English\"", master, StringComparison.Ordinal); // from the source
        Assert.Contains("TYPE=AUDIO,GROUP-ID=\"group_audio\",LANGUAGE=\"fr\",NAME=\"Version française\",DEFAULT=NO", master, StringComparison.Ordinal);
        Assert.All(master.Split('\n').Where(l => l.StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal)), l => Assert.Contains("SUBTITLES=\"subs\"", l, StringComparison.Ordinal));

        // The rendition's playlist and WebVTT file come through the token, and only through it.
        var playlist = await app.Client.GetStringAsync(session.Base + "subtitles/upload-fr.m3u8");
        var vttName = playlist.Split('\n').Single(l => l.EndsWith(".vtt", StringComparison.Ordinal));
        var vtt = await app.Client.GetAsync(session.Base + "subtitles/" + vttName);
        Assert.Equal(HttpStatusCode.OK, vtt.StatusCode);
        Assert.Equal("text/vtt", vtt.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Bonjour", await vtt.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.Tampered(session.Base + "subtitles/" + vttName))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.Tampered(session.Base + "subtitles/en.vtt"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(session.Base + "subtitles/en.vtt")).StatusCode);

        // Published already: a new language is in the next master Delivery serves (its layout cache follows the master), and a deletion too.
        Assert.Equal(HttpStatusCode.Created, (await UploadAsync(app, titleId, "de.vtt", "WEBVTT\n\n00:01.000 --> 00:05.000\nHallo\n", "de", "Deutsch")).StatusCode);
        master = await app.Client.GetStringAsync(session.ManifestUrl);
        Assert.Contains("LANGUAGE=\"de\",NAME=\"Deutsch\"", master, StringComparison.Ordinal);
        Assert.Contains("Hallo", await app.Client.GetStringAsync(session.Base + "subtitles/" +
            (await app.Client.GetStringAsync(session.Base + "subtitles/upload-de.m3u8")).Split('\n').Single(l => l.EndsWith(".vtt", StringComparison.Ordinal))), StringComparison.Ordinal);

        // An upload in the source's language replaces the source's rendition; deleting it brings the source's back.
        Assert.Equal(HttpStatusCode.Created, (await UploadAsync(app, titleId, "en.srt", GoodSrt, "en", "English (edited)")).StatusCode);
        master = await app.Client.GetStringAsync(session.ManifestUrl);
        Assert.Contains("NAME=\"English (edited)\"", master, StringComparison.Ordinal);
        Assert.DoesNotContain("URI=\"subtitles/en.m3u8\"", master, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NoContent, (await app.Client.DeleteAsync($"/api/media/titles/{titleId}/subtitles/en")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await app.Client.DeleteAsync($"/api/media/titles/{titleId}/subtitles/de")).StatusCode);
        master = await app.Client.GetStringAsync(session.ManifestUrl);
        Assert.Contains("URI=\"subtitles/en.m3u8\"", master, StringComparison.Ordinal);
        Assert.DoesNotContain("LANGUAGE=\"de\"", master, StringComparison.Ordinal);
        Assert.Equal(2, master.Split('\n').Count(l => l.StartsWith("#EXT-X-MEDIA:TYPE=SUBTITLES", StringComparison.Ordinal))); // en (source), fr (upload)
    }
}
