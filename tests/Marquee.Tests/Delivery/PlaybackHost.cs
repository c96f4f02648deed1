using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Delivery.Contracts;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Delivery;

/// <summary>The real host with the test package as Media's answer, and the calls a player makes.</summary>
internal static class PlaybackHost
{
    public static Task<MarqueeApp> StartAsync(TestPackage package, Action<IDictionary<string, string?>>? configure = null, IPlaybackPolicy? policy = null) =>
        MarqueeApp.StartAsync(configure, services =>
        {
            services.AddSingleton(package.Media);
            if (policy is not null)
            {
                services.AddSingleton(policy);
            }
        });

    /// <summary>Starts a session as the signed-in admin of <see cref="MarqueeApp.Client"/>.</summary>
    public static async Task<PlayerSession> StartSessionAsync(this MarqueeApp app, Guid titleId)
    {
        var response = await app.PostJsonAsync("/api/playback/sessions", new { titleId });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, body);
        var json = JsonSerializer.Deserialize<JsonElement>(body);
        return new PlayerSession(
            json.GetProperty("sessionId").GetGuid(),
            json.GetProperty("manifestUrl").GetString()!,
            json.GetProperty("heartbeatUrl").GetString()!,
            json.GetProperty("expiresAt").GetDateTimeOffset(),
            json.TryGetProperty("maxHeight", out var h) && h.ValueKind == JsonValueKind.Number ? h.GetInt32() : null);
    }

    public static Task<HttpResponseMessage> GetRawAsync(this MarqueeApp app, string pathAndQuery)
    {
        // Sent as written: no dot-segment removal or re-escaping by System.Uri.
        var uri = new Uri(app.BaseAddress.GetLeftPart(UriPartial.Authority) + pathAndQuery, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        return app.Client.GetAsync(uri);
    }

    public static async Task<T> JsonAsync<T>(this HttpResponseMessage response) => (await response.Content.ReadFromJsonAsync<T>())!;
}

/// <summary>A started session as the player sees it.</summary>
internal sealed record PlayerSession(Guid Id, string ManifestUrl, string HeartbeatUrl, DateTimeOffset ExpiresAt, int? MaxHeight)
{
    /// <summary>The token's base path: <c>/api/playback/s/TOKEN/</c>.</summary>
    public string Base => ManifestUrl[..(ManifestUrl.LastIndexOf('/') + 1)];

    public string Token => Base.TrimEnd('/')[(Base.TrimEnd('/').LastIndexOf('/') + 1)..];

    public string KeyUrl => Base + "key";

    /// <summary>The same URL with one character of the token changed.</summary>
    public string Tampered(string url)
    {
        var i = url.IndexOf(Token, StringComparison.Ordinal) + Token.Length / 2;
        var flipped = url[i] == 'A' ? 'B' : 'A';
        return string.Concat(url.AsSpan(0, i), flipped.ToString(), url.AsSpan(i + 1));
    }
}

/// <summary>
/// One host shared by the tests of a class that need nothing special of it: a host start costs seconds and the suite
/// starts hundreds. Each test starts its own playback session, so the stream limit is raised for the shared admin.
/// </summary>
public sealed class SharedPlaybackHost : IAsyncLifetime
{
    private readonly SemaphoreSlim gate = new(1, 1);

    private MarqueeApp? app;

    internal async Task<MarqueeApp> GetAsync(TestPackage package)
    {
        await gate.WaitAsync();
        try
        {
            return app ??= await PlaybackHost.StartAsync(package, c => c["Marquee:Identity:MaxConcurrentStreams"] = "100");
        }
        finally
        {
            gate.Release();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }

        gate.Dispose();
    }
}
