using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Delivery.Contracts;
using Marquee.Delivery.Data;
using Marquee.Platform.Web;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Delivery;

/// <summary>The sessions API over a stub package (no ffmpeg): runs on SQLite and PostgreSQL.</summary>
public sealed class PlaybackSessionsApiTests(HlsStub package, SharedPlaybackHost shared) : IClassFixture<HlsStub>, IClassFixture<SharedPlaybackHost>
{
    [Fact]
    public async Task StartSession_WhenLocalViewer_Answers201WithSignedManifestUrl()
    {
        await using var app = await PlaybackHost.StartAsync(package);

        var response = await app.PostJsonAsync("/api/playback/sessions", new { titleId = package.TitleId });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.JsonAsync<JsonElement>();
        var sessionId = body.GetProperty("sessionId").GetGuid();
        Assert.Matches("^/api/playback/s/[A-Za-z0-9_-]{75}/master\\.m3u8$", body.GetProperty("manifestUrl").GetString());
        Assert.Equal($"/api/playback/sessions/{sessionId}/heartbeat", body.GetProperty("heartbeatUrl").GetString());
        Assert.True(body.GetProperty("expiresAt").GetDateTimeOffset() > TimeProvider.System.GetUtcNow().AddHours(5));
        Assert.Equal(JsonValueKind.Null, body.GetProperty("maxHeight").ValueKind);
        Assert.Equal($"/api/playback/sessions/{sessionId}", response.Headers.Location?.ToString());

        // Stored with the signed-in account's id (also its profile until profiles exist), and PlaybackStarted is in the outbox of the same transaction.
        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<DeliveryDb>();
            var session = await db.Sessions.SingleAsync(s => s.Id == sessionId);
            Assert.Equal(app.AdminId, session.AccountId);
            Assert.Equal(package.AssetId, session.AssetId);
            Assert.Equal(ClientPlatform.Web, session.Platform);
            Assert.Equal(1, await db.Outbox.CountAsync(m => m.EventName == "delivery.playback-started.v1"));
            Assert.Equal(1, await sp.GetRequiredService<IPlaybackSessions>().CountLiveAsync(app.AdminId, CancellationToken.None));
            return 0;
        });
    }

    [Fact]
    public async Task StartSession_WhenTitleHasNoPackage_Answers404Problem()
    {
        var app = await shared.GetAsync(package);

        var response = await app.PostJsonAsync("/api/playback/sessions", new { titleId = Guid.NewGuid() });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"titleId\": \"not-a-guid\"}")]
    [InlineData("{not json")]
    public async Task StartSession_WhenBodyBad_Answers400Problem(string body)
    {
        var app = await shared.GetAsync(package);

        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        var response = await app.Client.PostAsync("/api/playback/sessions", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task StartSession_WhenNotSignedIn_Answers403ProblemWithReason()
    {
        var app = await shared.GetAsync(package);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/playback/sessions") { Content = JsonContent.Create(new { titleId = package.TitleId }) };
        var response = await app.AnonymousClient.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.JsonAsync<JsonElement>();
        Assert.Equal("Sign in to watch.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Heartbeat_WhenSessionLive_RenewsTokenAndRecordsPosition()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);

        var response = await app.PostJsonAsync(session.HeartbeatUrl, new { positionSeconds = 12.5 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var renewed = await response.JsonAsync<JsonElement>();
        Assert.True(renewed.GetProperty("expiresAt").GetDateTimeOffset() >= session.ExpiresAt);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(renewed.GetProperty("manifestUrl").GetString())).StatusCode);
        var position = await app.ScopedAsync(async sp => (await sp.GetRequiredService<DeliveryDb>().Sessions.SingleAsync(s => s.Id == session.Id)).PositionSeconds);
        Assert.Equal(12.5, position);
    }

    [Fact]
    public async Task Stop_WhenViewerEndsSession_TokenAnswers403AndPlaybackEndedIsPublished()
    {
        await using var app = await PlaybackHost.StartAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);
        // Fetched once before the end, so that the process holds the live session in memory.
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(session.ManifestUrl)).StatusCode);

        var stop = await app.Client.DeleteAsync($"/api/playback/sessions/{session.Id}");

        Assert.Equal(HttpStatusCode.NoContent, stop.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.ManifestUrl)).StatusCode);
        Assert.Equal(HttpStatusCode.Gone, (await app.PostJsonAsync(session.HeartbeatUrl, new { positionSeconds = 1 })).StatusCode);
        var state = await app.Client.GetFromJsonAsync<JsonElement>($"/api/playback/sessions/{session.Id}");
        Assert.False(state.GetProperty("live").GetBoolean());
        Assert.Equal("stopped", state.GetProperty("endReason").GetString());
        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<DeliveryDb>();
            Assert.Equal("stopped", (await db.Sessions.SingleAsync(s => s.Id == session.Id)).EndReason);
            Assert.Equal(1, await db.Outbox.CountAsync(m => m.EventName == "delivery.playback-ended.v1"));
            Assert.Equal(0, await sp.GetRequiredService<IPlaybackSessions>().CountLiveAsync(app.AdminId, CancellationToken.None));
            return 0;
        });
    }

    [Fact]
    public async Task End_WhenWatchPageLeavesWithBeacon_EndsSessionAndNextSessionResumesThere()
    {
        await using var app = await PlaybackHost.StartAsync(package);
        var first = await app.StartSessionAsync(package.TitleId);
        Assert.Equal(HttpStatusCode.OK, (await app.PostJsonAsync(first.HeartbeatUrl, new { position = 2.5 })).StatusCode);

        // The watch page's navigator.sendBeacon: POST .../end with {"position": seconds}.
        var end = await app.PostJsonAsync($"/api/playback/sessions/{first.Id}/end", new { position = 3.25 });

        Assert.Equal(HttpStatusCode.NoContent, end.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(first.ManifestUrl)).StatusCode);
        var second = await app.PostJsonAsync("/api/playback/sessions", new { titleId = package.TitleId });
        Assert.Equal(3.25, (await second.JsonAsync<JsonElement>()).GetProperty("resumeAt").GetDouble());
    }

    [Fact]
    public async Task Heartbeat_WhenPositionNegative_Answers400Problem()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);

        var response = await app.PostJsonAsync(session.HeartbeatUrl, new { positionSeconds = -4 });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Heartbeat_WhenSessionIsSomeoneElses_Answers404()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);

        using var request = new HttpRequestMessage(HttpMethod.Post, session.HeartbeatUrl) { Content = JsonContent.Create(new { position = 1 }) };
        var otherViewer = await app.ClientWithRolesAsync(Roles.Viewer);
        var response = await otherViewer.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Session_WhenNoHeartbeatWithinTimeout_IsEndedAndItsTokenAnswers403()
    {
        await using var app = await PlaybackHost.StartAsync(package, c => c["Marquee:Delivery:HeartbeatTimeout"] = "00:00:05"); // room for a loaded machine between start and first fetch
        var session = await app.StartSessionAsync(package.TitleId);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(session.ManifestUrl)).StatusCode);

        // The background sweeper ends it without anyone asking for it again.
        var reason = await Poll.UntilAsync(
            () => app.ScopedAsync(async sp => (await sp.GetRequiredService<DeliveryDb>().Sessions.AsNoTracking().SingleAsync(s => s.Id == session.Id)).EndReason),
            r => r is not null, what: "the silent session to end");

        Assert.Equal("heartbeat-timeout", reason);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.ManifestUrl)).StatusCode);
    }

    [Fact]
    public async Task Session_WhenEndedByAnotherProcess_IsRefusedOnceTheInMemoryCopyExpires()
    {
        await using var app = await PlaybackHost.StartAsync(package, c => c["Marquee:Delivery:SessionCacheLifetime"] = "00:00:01");
        var session = await app.StartSessionAsync(package.TitleId);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(session.Base + "360p/seg_0.m4s")).StatusCode);

        // Another web node revokes it: only the row changes, this process is not told.
        await EndRowElsewhereAsync(app, session.Id);

        await Poll.UntilAsync(
            async () => (await app.Client.GetAsync(session.Base + "360p/seg_0.m4s")).StatusCode,
            status => status == HttpStatusCode.Forbidden, what: "the segment to be refused after the cached copy expired");
    }

    [Fact]
    public async Task Session_WhenCacheLifetimeZeroAndEndedByAnotherProcess_IsRefusedAtOnce()
    {
        await using var app = await PlaybackHost.StartAsync(package, c => c["Marquee:Delivery:SessionCacheLifetime"] = "00:00:00");
        var session = await app.StartSessionAsync(package.TitleId);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(session.Base + "360p/seg_0.m4s")).StatusCode);

        await EndRowElsewhereAsync(app, session.Id);

        Assert.Equal(HttpStatusCode.Forbidden, (await app.Client.GetAsync(session.Base + "360p/seg_0.m4s")).StatusCode);
    }

    private static Task<int> EndRowElsewhereAsync(MarqueeApp app, Guid sessionId) => app.ScopedAsync(async sp =>
    {
        var db = sp.GetRequiredService<DeliveryDb>();
        var row = await db.Sessions.SingleAsync(s => s.Id == sessionId);
        row.EndedAt = sp.GetRequiredService<TimeProvider>().GetUtcNow();
        row.EndReason = "revoked";
        return await db.SaveChangesAsync();
    });

    [Fact]
    public async Task Revoke_WhenOperatorRevokes_TokenAnswers403AtOnce()
    {
        await using var app = await PlaybackHost.StartAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(session.Base + "360p/seg_0.m4s")).StatusCode);

        var revoke = await app.Client.PostAsync($"/api/playback/sessions/{session.Id}/revoke", null);

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        foreach (var url in new[] { session.ManifestUrl, session.KeyUrl, session.Base + "360p/seg_0.m4s", session.Base + "360p/index.m3u8" })
        {
            var response = await app.Client.GetAsync(url);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        var audit = await Poll.UntilAsync(
            () => app.Client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit?action=delivery.playback-revoked")!,
            lines => lines!.Length == 1, what: "the revocation's audit line");
        Assert.Equal($"playback-session:{session.Id}", audit![0].GetProperty("target").GetString());
    }

    [Fact]
    public async Task ConsoleOverview_WhenASessionIsLive_ShowsLivePlaybackSessions()
    {
        var app = await shared.GetAsync(package);
        await app.StartSessionAsync(package.TitleId);

        var page = await app.Client.GetStringAsync("/console");

        Assert.Contains("Live playback sessions", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoke_WhenViewerOrAnonymous_IsRefused()
    {
        var app = await shared.GetAsync(package);
        var session = await app.StartSessionAsync(package.TitleId);
        var viewer = await app.ClientWithRolesAsync(Roles.Viewer);

        var byViewer = await viewer.PostAsync($"/api/playback/sessions/{session.Id}/revoke", null);
        var byAnonymous = await app.AnonymousClient.PostAsync($"/api/playback/sessions/{session.Id}/revoke", null);

        Assert.Equal(HttpStatusCode.Forbidden, byViewer.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, byAnonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync(session.ManifestUrl)).StatusCode);
    }
}
