using System.Net;
using Marquee.Billing;
using Marquee.Platform;
using Marquee.Tests.Support;
using Microsoft.Extensions.Options;

namespace Marquee.Tests.Resilience;

/// <summary>
/// R28 on whole processes: libfaketime (apt <c>faketime</c>) shifts the clock of a real <c>marquee</c> process, which .NET's
/// <see cref="TimeProvider.System"/> follows; the other side runs on the true clock. Outside CI (a transcode, three
/// command runs and one server start):
/// <c>dotnet test tests/Marquee.Tests --filter "FullyQualifiedName~ClockSkewProcessTests"</c>.
/// </summary>
[Trait("Category", "Soak")]
[Collection("Media")]
public sealed class ClockSkewProcessTests
{
    private const string LibFakeTime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

    /// <summary>What the <c>faketime</c> command sets: the library preloaded and the offset (e.g. <c>+10m</c>).</summary>
    private static IDictionary<string, string?> Skewed(IDictionary<string, string?> environment, string offset)
    {
        Assert.True(File.Exists(LibFakeTime), $"{LibFakeTime} is missing: apt-get install faketime");
        return new Dictionary<string, string?>(environment) { ["LD_PRELOAD"] = LibFakeTime, ["FAKETIME"] = offset };
    }

    [Fact]
    public async Task PlaybackUrl_SignedByAProcessWhoseClockIsOff_IsHonouredForItsLifetimeAsThatClockSawIt()
    {
        await using var storage = await TestStorage.CreateAsync();
        var clip = await Tools.MakeClipAsync(Path.Combine(storage.DataDir, "skew.mp4"), seconds: 2);
        var ingest = await MarqueeProcess.RunAsync(["ingest", clip, "--title", "Skew", "--wait"], storage.Environment(), TimeSpan.FromMinutes(4));
        Assert.True(ingest.ExitCode == 0, ingest.Stderr + ingest.Stdout);
        var titleId = ingest.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
        await using var server = await MarqueeApp.StartAsync(storage: storage); // the true clock

        async Task<HttpStatusCode> PlayAsync(IDictionary<string, string?> environment)
        {
            var issued = await MarqueeProcess.RunAsync(["playback-url", titleId, "--ttl", "5m", "--urls", server.BaseAddress.ToString()], environment);
            Assert.True(issued.ExitCode == 0, issued.Stderr + issued.Stdout);
            var url = issued.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
            using var response = await server.AnonymousClient.GetAsync(new Uri(url));
            return response.StatusCode;
        }

        // On the same clock: the 5-minute URL plays (the control).
        Assert.Equal(HttpStatusCode.OK, await PlayAsync(storage.Environment()));
        // Signed 10 minutes in the future: its expiry is 15 minutes away here, so it plays (and lives 10 minutes longer
        // than asked: the signer's clock is trusted, there is no tolerance to subtract).
        Assert.Equal(HttpStatusCode.OK, await PlayAsync(Skewed(storage.Environment(), "+10m")));
        // Signed 10 minutes in the past with a 5-minute lifetime: expired on arrival, refused.
        Assert.Equal(HttpStatusCode.Forbidden, await PlayAsync(Skewed(storage.Environment(), "-10m")));
    }

    [Fact]
    public async Task SandboxWebhook_WhenTheReceiverIsTenMinutesAhead_RefusesWhatWasSignedNowAndTakesWhatIsSignedAtItsTime()
    {
        const string secret = "clock-skew-webhook-secret";
        await using var storage = await TestStorage.CreateAsync();
        var port = MarqueeProcess.FreePort();
        var baseAddress = new Uri($"http://127.0.0.1:{port}");
        var environment = Skewed(storage.Environment(), "+10m");
        environment["Marquee__Billing__Sandbox__WebhookSecret"] = secret;
        await using var process = MarqueeProcess.Start(["serve", "--urls", baseAddress.ToString(), "--Marquee:Roles=web", "--Marquee:Database:MigrateOnStart=true"], environment);
        await process.WaitUntilReadyAsync(baseAddress, MarqueeProcess.ReadyTimeout);
        using var client = new HttpClient { BaseAddress = baseAddress };
        var signer = new SandboxSigner(
            Options.Create(new BillingOptions { Sandbox = { WebhookSecret = secret } }),
            Options.Create(new MarqueeOptions { DataDir = storage.DataDir }));
        var now = TimeProvider.System.GetUtcNow(); // the test's clock is the true one

        async Task<(HttpStatusCode Status, string Body)> SendAsync(DateTimeOffset signedAt)
        {
            var body = $"{{\"id\":\"evt_{Guid.NewGuid():N}\",\"type\":\"charge.succeeded\",\"created\":{signedAt.ToUnixTimeSeconds()},\"chargeId\":\"ch_unknown\"}}";
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/billing/webhooks/sandbox") { Content = new StringContent(body) };
            request.Headers.Add(SandboxSigner.Header, signer.Sign(body, signedAt));
            using var response = await client.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        // Signed now on the true clock: 10 minutes in the past for the receiver, beyond the 300 s tolerance.
        var stale = await SendAsync(now);
        Assert.Equal(HttpStatusCode.BadRequest, stale.Status);
        Assert.Contains("timestamp outside the tolerance", stale.Body, StringComparison.Ordinal);

        // The control: signed at the receiver's time, the signature and timestamp pass (the charge is unknown: 409).
        var current = await SendAsync(now.AddMinutes(10));
        Assert.True(current.Status == HttpStatusCode.Conflict, $"{(int)current.Status} {current.Body}");
        Assert.Contains("unknown charge", current.Body, StringComparison.Ordinal);

        // And what is 4 minutes old for it is still inside the tolerance.
        var recent = await SendAsync(now.AddMinutes(6));
        Assert.Equal(HttpStatusCode.Conflict, recent.Status);
    }
}
