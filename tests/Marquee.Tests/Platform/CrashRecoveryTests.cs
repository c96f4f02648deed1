using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Support;

namespace Marquee.Tests.Platform;

/// <summary>The server killed with SIGKILL between an outbox write and its delivery loses no event.</summary>
public sealed class CrashRecoveryTests
{
    [Fact]
    public async Task KillHard_BetweenOutboxWriteAndDelivery_EventDeliveredOnceAfterRestart()
    {
        await using var storage = await TestStorage.CreateAsync();
        var environment = storage.Environment();
        var port = MarqueeProcess.FreePort();
        var baseAddress = new Uri($"http://127.0.0.1:{port}");
        using var client = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = baseAddress };
        const string password = "crash-recovery-admin-password";
        await MarqueeProcess.CreateAdminAsync(environment, "admin@marquee.test", password);
        string[] Args(string roles) => ["serve", "--urls", baseAddress.ToString(), $"--Marquee:Roles={roles}", "--Marquee:Database:MigrateOnStart=true", "--Marquee:Events:PollInterval=00:00:00.100"];

        // 1. A web-only process stores titles and their events, but delivers nothing; then it is killed hard.
        var ids = new List<string>();
        await using (var first = MarqueeProcess.Start(Args("web"), environment))
        {
            await first.WaitUntilReadyAsync(baseAddress, MarqueeProcess.ReadyTimeout);
            // The session cookie stays valid across restarts: the Data Protection keys are in the data folder.
            client.DefaultRequestHeaders.Add("Cookie", await MarqueeProcess.SignInAsync(baseAddress, "admin@marquee.test", password));
            foreach (var name in new[] { "Big Buck Bunny", "Sintel", "Tears of Steel" })
            {
                var response = await client.PostAsJsonAsync("/api/catalog/titles", new { name, kind = "Film" });
                response.EnsureSuccessStatusCode();
                ids.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
            }

            Assert.Empty(TitleLines(await client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit")));
            await first.KillHardAsync();
        }

        // 2. Restarted with the worker role: every stored event is delivered, each exactly once.
        await using (var second = MarqueeProcess.Start(Args("web,worker"), environment))
        {
            await second.WaitUntilReadyAsync(baseAddress, MarqueeProcess.ReadyTimeout);
            var lines = await Poll.UntilAsync(
                async () => TitleLines(await client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit")),
                l => l.Length >= 3, TimeSpan.FromSeconds(30), "audit lines after restart");
            Assert.Equal(
                ids.Select(id => $"title:{id}").Order(),
                lines!.Select(l => l.GetProperty("target").GetString()).Order());
            await second.KillHardAsync();
        }

        // 3. Another restart delivers nothing twice.
        await using (var third = MarqueeProcess.Start(Args("web,worker"), environment))
        {
            await third.WaitUntilReadyAsync(baseAddress, MarqueeProcess.ReadyTimeout);
            var response = await client.PostAsJsonAsync("/api/catalog/titles", new { name = "Marker", kind = "Film" });
            response.EnsureSuccessStatusCode();
            // Once the marker's audit line is in, any redelivery of the older ones would have happened before it.
            var lines = await Poll.UntilAsync(
                async () => TitleLines(await client.GetFromJsonAsync<JsonElement[]>("/api/compliance/audit")),
                l => l.Any(x => x.GetProperty("details").GetString() == "Marker"), TimeSpan.FromSeconds(30), "the marker");
            Assert.Equal(4, lines!.Length);
        }
    }

    /// <summary>The audit lines about titles (the admin's own account events are audited too).</summary>
    private static JsonElement[] TitleLines(JsonElement[]? lines) =>
        [.. (lines ?? []).Where(l => l.GetProperty("target").GetString()!.StartsWith("title:", StringComparison.Ordinal))];
}
