using System.Net;
using System.Net.Http.Headers;
using Marquee.Catalog.Data;
using Marquee.Media.Data;
using Marquee.Media.Uploads;
using Marquee.Platform.Web;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Media;

/// <summary>A finished upload reaches the pipeline exactly once, even when handing it on fails; expired uploads are deleted.</summary>
public sealed class UploadHandOffTests
{
    /// <summary>Fails the first time it is told of an upload, as a database away for a moment would.</summary>
    private sealed class FlakyCompletion : IUploadCompletion
    {
        public static int Calls;

        public Task CompletedAsync(UploadInfo upload, string dataPath, RequestActor actor, CancellationToken cancellationToken) =>
            Interlocked.Increment(ref Calls) == 1 ? throw new IOException("the disk went away") : Task.CompletedTask;
    }

    private static async Task<HttpResponseMessage> SendWholeUploadAsync(HttpClient client, byte[] bytes)
    {
        using var create = new HttpRequestMessage(HttpMethod.Post, "/api/media/uploads");
        create.Headers.Add("Tus-Resumable", "1.0.0");
        create.Headers.Add("Upload-Length", bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        create.Headers.Add("Upload-Metadata", $"filename {Convert.ToBase64String("flaky.mp4"u8.ToArray())},title {Convert.ToBase64String("Flaky hand-off"u8.ToArray())}");
        var created = await client.SendAsync(create);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        using var patch = new HttpRequestMessage(HttpMethod.Patch, created.Headers.Location);
        patch.Headers.Add("Tus-Resumable", "1.0.0");
        patch.Headers.Add("Upload-Offset", "0");
        patch.Content = new ByteArrayContent(bytes);
        patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
        return await client.SendAsync(patch);
    }

    [Fact]
    public async Task HandOff_WhenAStepFails_IsTriedAgainAndMakesOneTitleAndOneAsset()
    {
        FlakyCompletion.Calls = 0;
        await using var app = await MarqueeApp.StartAsync(
            configure: s => s["Marquee:Media:Uploads:SweepInterval"] = "00:00:00.200",
            services: s => s.AddScoped<IUploadCompletion, FlakyCompletion>());

        var response = await SendWholeUploadAsync(app.Client, new byte[50_000]);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode); // every byte is kept: the client is done
        Assert.Equal("50000", response.Headers.GetValues("Upload-Offset").Single());
        var store = app.Services.GetRequiredService<UploadStore>();
        var upload = (await Poll.UntilAsync(async () => (await store.ListAsync(CancellationToken.None)).SingleOrDefault(u => u.Completed),
            u => u is not null, TimeSpan.FromSeconds(30), "the sweeper to finish the hand-off"))!;
        Assert.True(FlakyCompletion.Calls >= 2);
        Assert.NotNull(upload.TitleId);

        var assets = await app.ScopedAsync(sp => sp.GetRequiredService<MediaDb>().Assets.AsNoTracking().ToListAsync());
        var asset = Assert.Single(assets);
        Assert.Equal(upload.TitleId, asset.TitleId);
        var titles = await app.ScopedAsync(sp => sp.GetRequiredService<CatalogDb>().Titles.AsNoTracking().Where(t => t.Name == "Flaky hand-off").CountAsync());
        Assert.Equal(1, titles);
        Assert.Single(Directory.GetFiles(Path.Combine(app.DataDir, "media", "sources")));
    }

    [Fact]
    public async Task Sweep_WhenUploadsExpired_DeletesThemAndKeepsTheLiveOnes()
    {
        await using var app = await MarqueeApp.StartAsync();
        var store = app.Services.GetRequiredService<UploadStore>();
        var now = app.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var metadata = new Dictionary<string, string> { ["filename"] = "a.mp4" };
        var expired = await store.CreateAsync(new UploadInfo(Guid.NewGuid(), 10, metadata, now.AddDays(-2), now.AddDays(-1), "someone"), CancellationToken.None);
        var live = await store.CreateAsync(new UploadInfo(Guid.NewGuid(), 10, metadata, now, now.AddDays(1), "someone"), CancellationToken.None);

        await app.Services.GetRequiredService<UploadSweeper>().SweepAsync(CancellationToken.None);

        Assert.Null(await store.FindAsync(expired.Id, CancellationToken.None));
        Assert.False(File.Exists(store.DataPath(expired.Id)));
        Assert.NotNull(await store.FindAsync(live.Id, CancellationToken.None));
        Assert.True(File.Exists(store.DataPath(live.Id)));
    }
}
