using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Media;
using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Media;

/// <summary>
/// The durable job queue without transcoding (runs on PostgreSQL too): leases and recovery, priorities, back-off, the jobs API
/// (retry, cancel, priority: audited, problem details on a bad state). The host runs the web role only, so that nothing
/// is claimed unless the test asks the pipeline to.
/// </summary>
public sealed class MediaJobsTests
{
    private static void WebOnly(IDictionary<string, string?> s)
    {
        s["Marquee:Roles"] = "web";
        s["Marquee:Media:LeaseDuration"] = "00:01:00";
    }

    private static async Task<Guid> AddAsync(MarqueeApp app, AssetState state, Action<Asset>? change = null)
    {
        var asset = new Asset { Id = Guid.NewGuid(), TitleId = Guid.NewGuid(), SourcePath = "missing.mp4", State = state };
        asset.CreatedAt = asset.UpdatedAt = TimeProvider.System.GetUtcNow();
        change?.Invoke(asset);
        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<MediaDb>();
            db.Assets.Add(asset);
            return await db.SaveChangesAsync();
        });
        return asset.Id;
    }

    private static Task<Asset> AssetAsync(MarqueeApp app, Guid id) =>
        app.ScopedAsync(sp => sp.GetRequiredService<MediaDb>().Assets.AsNoTracking().SingleAsync(a => a.Id == id));

    private static string Staging(MarqueeApp app, Guid id)
    {
        var folder = Path.Combine(app.DataDir, "media", "published", id.ToString("N") + ".staging");
        Directory.CreateDirectory(Path.Combine(folder, "720p"));
        File.WriteAllText(Path.Combine(folder, "720p", "seg_00000.m4s"), "half");
        return folder;
    }

    [Fact]
    public async Task Recover_PutsBackOnlyJobsWhoseLeaseLapsed_AndSweepsOnlyTheirStaging()
    {
        await using var app = await MarqueeApp.StartAsync(WebOnly);
        var now = TimeProvider.System.GetUtcNow();
        var live = await AddAsync(app, AssetState.Transcoding, a => { a.LeaseOwner = "other-worker"; a.LeaseExpiresAt = now.AddMinutes(10); a.Attempts = 1; });
        var dead = await AddAsync(app, AssetState.Transcoding, a => { a.LeaseOwner = "killed-worker"; a.LeaseExpiresAt = now.AddSeconds(-5); a.Attempts = 1; });
        var cancelled = await AddAsync(app, AssetState.Probing, a => { a.LeaseOwner = "killed-worker"; a.LeaseExpiresAt = now.AddSeconds(-5); a.Attempts = 1; a.CancelRequested = true; });
        var exhausted = await AddAsync(app, AssetState.Transcoding, a => { a.LeaseOwner = "killed-worker"; a.LeaseExpiresAt = now.AddSeconds(-5); a.Attempts = 3; });
        var liveStaging = Staging(app, live);
        var deadStaging = Staging(app, dead);
        var orphanStaging = Staging(app, Guid.NewGuid());

        var requeued = await app.Services.GetRequiredService<MediaPipeline>().RecoverAsync(CancellationToken.None);

        Assert.Equal(1, requeued);
        var l = await AssetAsync(app, live);
        Assert.Equal((AssetState.Transcoding, "other-worker"), (l.State, l.LeaseOwner));
        Assert.True(Directory.Exists(liveStaging), "a live job's staging folder must survive another worker's recovery");
        var d = await AssetAsync(app, dead);
        Assert.Equal((AssetState.Received, (string?)null, 1), (d.State, d.LeaseOwner, d.Attempts));
        Assert.False(Directory.Exists(deadStaging));
        Assert.False(Directory.Exists(orphanStaging));
        Assert.Equal(AssetState.Cancelled, (await AssetAsync(app, cancelled)).State);
        var e = await AssetAsync(app, exhausted);
        Assert.Equal(AssetState.Failed, e.State);
        Assert.StartsWith("Interrupted 3 time(s)", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunNext_TakesHighestPriorityFirstThenOldest_AndSkipsJobsInBackOff()
    {
        await using var app = await MarqueeApp.StartAsync(WebOnly);
        var sources = Path.Combine(app.DataDir, "media", "sources");
        Directory.CreateDirectory(sources);
        await File.WriteAllTextAsync(Path.Combine(sources, "notes.mp4"), "not media: the probe rejects it at once");
        var start = TimeProvider.System.GetUtcNow().AddMinutes(-10);
        Task<Guid> Add(int priority, int minute, DateTimeOffset? notBefore = null) => AddAsync(app, AssetState.Received, a =>
        {
            a.SourcePath = "notes.mp4";
            a.Priority = priority;
            a.CreatedAt = start.AddMinutes(minute);
            a.NotBefore = notBefore;
        });
        var oldLow = await Add(0, 0);
        var newHigh = await Add(5, 3);
        var oldHigh = await Add(5, 1);
        var waiting = await Add(100, 0, TimeProvider.System.GetUtcNow().AddHours(1));
        var pipeline = app.Services.GetRequiredService<MediaPipeline>();

        var order = new List<Guid>();
        while (await pipeline.RunNextAsync(CancellationToken.None))
        {
            var done = await app.ScopedAsync(sp => sp.GetRequiredService<MediaDb>().Assets.AsNoTracking()
                .Where(a => a.State == AssetState.Rejected).OrderBy(a => a.UpdatedAt).Select(a => a.Id).ToListAsync());
            order.Add(done.Except(order).Single());
        }

        Assert.Equal([oldHigh, newHigh, oldLow], order);
        Assert.Equal(AssetState.Received, (await AssetAsync(app, waiting)).State);
        Assert.Equal(1, (await AssetAsync(app, oldHigh)).Attempts);
    }

    [Fact]
    public async Task Cancel_WhenQueued_CancelsAtOnce_ThenRetryRequeuesWithFreshAttempts_AllAudited()
    {
        await using var app = await MarqueeApp.StartAsync(WebOnly);
        var id = await AddAsync(app, AssetState.Received, a => a.Attempts = 2);

        var cancel = await app.Client.PostAsync($"/api/media/assets/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal("Cancelled", (await cancel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());

        var again = await app.Client.PostAsync($"/api/media/assets/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("application/problem+json", again.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Cancelled", (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());

        var retry = await app.Client.PostAsync($"/api/media/assets/{id}/retry", null);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        var job = await retry.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Received", job.GetProperty("state").GetString());
        Assert.Equal(0, job.GetProperty("attempts").GetInt32());

        var retryQueued = await app.Client.PostAsync($"/api/media/assets/{id}/retry", null);
        Assert.Equal(HttpStatusCode.Conflict, retryQueued.StatusCode);
        Assert.Equal("application/problem+json", retryQueued.Content.Headers.ContentType?.MediaType);

        foreach (var action in new[] { "media.asset-cancelled", "media.asset-retried" })
        {
            var audit = await app.Client.GetFromJsonAsync<JsonElement[]>($"/api/compliance/audit?action={action}");
            Assert.Equal($"asset:{id}", Assert.Single(audit!).GetProperty("target").GetString());
        }
    }

    [Fact]
    public async Task Cancel_WhenRunning_FlagsItForItsWorker_AndShowsProgressFromTheDatabase()
    {
        await using var app = await MarqueeApp.StartAsync(WebOnly);
        var now = TimeProvider.System.GetUtcNow();
        var id = await AddAsync(app, AssetState.Transcoding, a =>
        {
            a.LeaseOwner = "some-worker";
            a.LeaseExpiresAt = now.AddMinutes(1);
            a.ProgressPercent = 42.5;
            a.ProgressFps = 61;
            a.ProgressSpeed = 2.4;
            a.ProgressRemainingMs = 12_000;
            a.ProgressAt = now;
        });

        var before = await app.Client.GetFromJsonAsync<JsonElement>($"/api/media/assets/{id}");
        Assert.Equal(42.5, before.GetProperty("progress").GetProperty("percent").GetDouble());
        Assert.Equal(61, before.GetProperty("progress").GetProperty("fps").GetDouble());
        var cancel = await app.Client.PostAsync($"/api/media/assets/{id}/cancel", null);

        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var job = await cancel.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Transcoding", job.GetProperty("state").GetString()); // its worker finishes the cancel on its next heartbeat
        Assert.True(job.GetProperty("cancelRequested").GetBoolean());
        Assert.True((await AssetAsync(app, id)).CancelRequested);
    }

    [Fact]
    public async Task Priority_WhenSet_IsStoredAndAudited_AndOutOfRangeOrUnknownAnswerProblems()
    {
        await using var app = await MarqueeApp.StartAsync(WebOnly);
        var id = await AddAsync(app, AssetState.Received);

        var set = await app.Client.PostAsJsonAsync($"/api/media/assets/{id}/priority", new { priority = 7 });
        var tooHigh = await app.Client.PostAsJsonAsync($"/api/media/assets/{id}/priority", new { priority = 5000 });
        var unknown = await app.Client.PostAsJsonAsync($"/api/media/assets/{Guid.NewGuid()}/priority", new { priority = 1 });
        var unknownCancel = await app.Client.PostAsync($"/api/media/assets/{Guid.NewGuid()}/cancel", null);

        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal(7, (await AssetAsync(app, id)).Priority);
        Assert.Equal(HttpStatusCode.BadRequest, tooHigh.StatusCode);
        Assert.Equal("application/problem+json", tooHigh.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknownCancel.StatusCode);
        Assert.Equal("application/problem+json", unknownCancel.Content.Headers.ContentType?.MediaType);
        var audit = await app.Client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit?action=media.asset-priority-set");
        Assert.Equal("priority 7", Assert.Single(audit!).GetProperty("details").GetString());
    }

    [Fact]
    public async Task Failure_WhenNotARejection_IsRetriedWithBackOff()
    {
        await using var storage = await TestStorage.CreateAsync();
        var sources = Path.Combine(storage.DataDir, "media", "sources");
        Directory.CreateDirectory(sources);
        var made = await MediaSources.FfmpegAsync(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2", "-c:a", "aac", Path.Combine(sources, "tone.m4a")]);
        Assert.True(made.Succeeded);

        // ffprobe accepts the source; the decode check cannot start ffmpeg: a failure of the machine, not of the file.
        void Broken(IDictionary<string, string?> s, string delay)
        {
            s["Marquee:Media:FfmpegPath"] = Path.Combine(storage.DataDir, "no-such-ffmpeg");
            s["Marquee:Media:PollInterval"] = "00:00:00.100";
            s["Marquee:Media:MaxAttempts"] = "3";
            s["Marquee:Media:RetryBaseDelay"] = delay;
        }

        Guid slow;
        await using (var app = await MarqueeApp.StartAsync(s => Broken(s, "01:00:00"), storage: storage))
        {
            slow = await app.ScopedAsync(sp => sp.GetRequiredService<Assets>().ReceiveAsync(Guid.NewGuid(), "tone.m4a", CancellationToken.None));
            var waiting = await Poll.UntilAsync(() => AssetAsync(app, slow), a => a.Attempts == 1 && a.State == AssetState.Received,
                TimeSpan.FromSeconds(20), "the first attempt to fail");
            Assert.StartsWith("Attempt 1 of 3 failed: Could not start", waiting.Reason, StringComparison.Ordinal);
            Assert.InRange(waiting.NotBefore!.Value, TimeProvider.System.GetUtcNow().AddMinutes(59), TimeProvider.System.GetUtcNow().AddMinutes(61));
            Assert.False(await app.Services.GetRequiredService<MediaPipeline>().RunNextAsync(CancellationToken.None)); // backing off
        }

        await using (var app = await MarqueeApp.StartAsync(s => Broken(s, "00:00:00.050"), storage: storage))
        {
            var fast = await app.ScopedAsync(sp => sp.GetRequiredService<Assets>().ReceiveAsync(Guid.NewGuid(), "tone.m4a", CancellationToken.None));
            var failed = await Poll.UntilAsync(() => AssetAsync(app, fast), a => a.State == AssetState.Failed, TimeSpan.FromSeconds(30), "the attempts to run out");
            Assert.Equal(3, failed.Attempts);
            Assert.StartsWith("Could not start", failed.Reason, StringComparison.Ordinal);
            Assert.Null(failed.LeaseOwner);
            Assert.Equal(AssetState.Received, (await AssetAsync(app, slow)).State); // still waiting out its back-off
        }
    }
}
