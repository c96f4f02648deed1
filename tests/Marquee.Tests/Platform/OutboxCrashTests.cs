using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Marquee.Tests.Platform;

/// <summary>
/// R3: the real <c>marquee serve</c> killed with SIGKILL ten times at random moments while clients create titles. Each
/// creation writes the title and its outbox message (an audit request) in one transaction; the dispatcher hands the
/// message to Compliance, whose inbox (the handled-message table) makes the effect happen once. After the last restart
/// the outbox drains and the verifier finds every created title audited exactly once, no acknowledged title lost, no
/// audit line for a title that does not exist, and (SQLite) an intact database file.
/// </summary>
[Trait("Category", "Resilience")]
[Collection("Media")] // a child server killed in a loop: not beside the heavy media tests
public sealed class OutboxCrashTests(ITestOutputHelper output)
{
    private const int Kills = 10;
    private const string Action = "catalog.title-created";
    private const string Password = "a long outbox crash passphrase";

    [Fact]
    public async Task KilledTenTimesWhileWriting_EveryMessageIsAppliedOnce_AndNothingAcknowledgedIsLost()
    {
        var (violations, integrity) = await RunAsync(atMostOnce: false);

        Assert.True(violations.Count == 0, string.Join('\n', violations));
        Assert.True(integrity is null or "ok", integrity);
    }

    /// <summary>
    /// The negative control against a broken build: the same harness on a server whose dispatcher marks a message
    /// delivered before its handler runs (<c>Marquee:Events:UnsafeAtMostOnce</c>). A kill between the two loses the
    /// message, and the verifier must say so. Outside CI (<c>Category=Soak</c>): whether one of ten random kills lands in
    /// that window is likely, not certain.
    /// </summary>
    [Fact]
    [Trait("Category", "Soak")]
    public async Task NegativeControl_AtMostOnceDelivery_TheHarnessFails()
    {
        var (violations, _) = await RunAsync(atMostOnce: true);

        Assert.Contains(violations, v => v.EndsWith("its message was lost", StringComparison.Ordinal));
    }

    private async Task<(List<string> Violations, string? Integrity)> RunAsync(bool atMostOnce)
    {
        await using var storage = await TestStorage.CreateAsync();
        var environment = storage.Environment();
        environment["Marquee__Events__PollInterval"] = "00:00:00.200";
        if (atMostOnce)
        {
            environment["Marquee__Events__UnsafeAtMostOnce"] = "true";
        }

        await MarqueeProcess.CreateAdminAsync(environment, "outbox-admin@marquee.test", Password);
        var baseAddress = new Uri($"http://127.0.0.1:{MarqueeProcess.FreePort()}");
        string[] serve = ["serve", "--urls", baseAddress.ToString(), "--Marquee:Roles=web,worker"];
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        var random = new Random(Environment.TickCount);
        using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
        var sent = 0;

        for (var kill = 0; kill < Kills; kill++)
        {
            await using var server = MarqueeProcess.Start(serve, environment);
            await server.WaitUntilReadyAsync(baseAddress, MarqueeProcess.ReadyTimeout);
            if (kill == 0)
            {
                client.DefaultRequestHeaders.Add("Cookie", await MarqueeProcess.SignInAsync(baseAddress, "outbox-admin@marquee.test", Password));
            }

            // Four writers until a random moment, then SIGKILL in the middle of their requests.
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var n = Interlocked.Increment(ref sent);
                    try
                    {
                        var response = await client.PostAsJsonAsync("/api/catalog/titles", new { name = $"Outbox {n}", kind = "Film" }, CancellationToken.None);
                        if (response.StatusCode == HttpStatusCode.Created)
                        {
                            acknowledged.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
                        }
                    }
                    // A connection the kill resets just after it opened can surface as a bare SocketException ("Transport
                    // endpoint is not connected", from the connection pool reading its remote end point): seen once in a full run.
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or IOException or System.Net.Sockets.SocketException)
                    {
                        // cut off by the kill: not acknowledged, so it may or may not exist
                    }
                }
            })).ToList();
            // Once this server has acknowledged a write (a freshly started one is slow at first), kill it at a random moment.
            var before = acknowledged.Count;
            await Poll.UntilAsync(() => Task.FromResult(acknowledged.Count), n => n > before, TimeSpan.FromSeconds(60), "a first acknowledged write");
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(0, 1000)), CancellationToken.None); // the kill's random moment, not a wait for work
            await server.KillServerOnlyAsync();
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        Assert.True(acknowledged.Count >= Kills, $"only {acknowledged.Count} creations were acknowledged: the harness did not load the server");

        // Drained: no message left to deliver (the last server delivers what the killed ones left in the outbox). The
        // broken variant has lost some for good, so "drained" is the outbox's count of pending messages, not titles = lines.
        await using var last = MarqueeProcess.Start(serve, environment);
        await last.WaitUntilReadyAsync(baseAddress, MarqueeProcess.ReadyTimeout);
        var (titles, audited) = await Poll.UntilAsync(async () => (await TitlesAsync(client), await AuditedAsync(client)),
            s => s.Item1.Count == s.Item2.Count || (atMostOnce && s.Item1.Count > s.Item2.Count), TimeSpan.FromMinutes(2), "the outbox to drain");
        if (atMostOnce)
        {
            await Poll.UntilAsync(() => PendingAsync(storage.DataDir), n => n == 0, TimeSpan.FromMinutes(2), "no message left pending");
            (titles, audited) = (await TitlesAsync(client), await AuditedAsync(client));
        }

        var violations = Verify([.. acknowledged], titles, audited);
        output.WriteLine($"R3{(atMostOnce ? " (broken variant: at-most-once delivery)" : "")}: {Kills} kills, {sent} writes sent, {acknowledged.Count} acknowledged, {titles.Count} titles exist, {audited.Count} audit lines, {violations.Count} violations");
        foreach (var v in violations.Take(5))
        {
            output.WriteLine("  " + v);
        }

        string? integrity = null;
        if (!TestDatabase.IsPostgres)
        {
            await using var db = new SqliteConnection($"Data Source={Path.Combine(storage.DataDir, "marquee.db")};Mode=ReadOnly;Pooling=False");
            await db.OpenAsync();
            await using var check = db.CreateCommand();
            check.CommandText = "PRAGMA integrity_check";
            integrity = (string?)await check.ExecuteScalarAsync();
        }

        return (violations, integrity);
    }

    /// <summary>Catalog's outbox messages not yet delivered (SQLite: the negative control runs on the embedded default).</summary>
    private static async Task<long> PendingAsync(string dataDir)
    {
        Assert.False(TestDatabase.IsPostgres, "the negative control reads the SQLite outbox");
        await using var db = new SqliteConnection($"Data Source={Path.Combine(dataDir, "marquee.db")};Mode=ReadOnly;Pooling=False");
        await db.OpenAsync();
        await using var count = db.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM catalog_outbox WHERE DeliveredAt IS NULL AND FailedAt IS NULL";
        return (long)(await count.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// The negative control: what a broken variant leaves behind (a title written without its message in the same
    /// transaction, so the crash lost the message; a handler without its inbox, so the redelivered message applied twice;
    /// an acknowledged write that vanished) is each caught by the same verifier, so the harness above can fail.
    /// </summary>
    [Fact]
    public void Verifier_WhenAMessageWasLostAppliedTwiceOrAWriteVanished_ReportsEach()
    {
        Guid a = Guid.NewGuid(), b = Guid.NewGuid(), c = Guid.NewGuid();
        Assert.Empty(Verify([a, b], [a, b, c], [a, b, c]));

        var lost = Verify([a, b], [a, b, c], [a, b]);
        var twice = Verify([a, b], [a, b], [a, b, b]);
        var vanished = Verify([a, b], [a], [a]);
        var ghost = Verify([a], [a], [a, c]);

        Assert.Equal([$"title {c} was never audited: its message was lost"], lost);
        Assert.Equal([$"title {b} was audited 2 times: a message applied twice"], twice);
        Assert.Equal([$"title {b} was acknowledged but does not exist"], vanished);
        Assert.Equal([$"audit line for title {c}, which does not exist"], ghost);
    }

    private static List<string> Verify(IReadOnlyCollection<Guid> acknowledged, IReadOnlyList<Guid> titles, IReadOnlyList<Guid> audited)
    {
        var violations = new List<string>();
        var counts = audited.GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
        var existing = titles.ToHashSet();
        foreach (var id in titles)
        {
            var n = counts.GetValueOrDefault(id);
            if (n == 0)
            {
                violations.Add($"title {id} was never audited: its message was lost");
            }
            else if (n > 1)
            {
                violations.Add($"title {id} was audited {n} times: a message applied twice");
            }
        }

        violations.AddRange(acknowledged.Where(id => !existing.Contains(id)).Select(id => $"title {id} was acknowledged but does not exist"));
        violations.AddRange(counts.Keys.Where(id => !existing.Contains(id)).Select(id => $"audit line for title {id}, which does not exist"));
        return violations;
    }

    private static async Task<List<Guid>> TitlesAsync(HttpClient client)
    {
        var all = new List<Guid>();
        for (var skip = 0; ; skip += 200)
        {
            var page = await client.GetFromJsonAsync<JsonElement[]>($"/api/catalog/titles?skip={skip}&take=200");
            all.AddRange(page!.Where(t => t.GetProperty("name").GetString()!.StartsWith("Outbox ", StringComparison.Ordinal)).Select(t => t.GetProperty("id").GetGuid()));
            if (page!.Length < 200)
            {
                return all;
            }
        }
    }

    private static async Task<List<Guid>> AuditedAsync(HttpClient client)
    {
        var lines = await client.GetFromJsonAsync<JsonElement[]>($"/api/compliance/audit?action={Action}&take=1000");
        Assert.True(lines!.Length < 1000, "more audit lines than one page: raise take or page through");
        return [.. lines.Select(l => Guid.Parse(l.GetProperty("target").GetString()!["title:".Length..]))];
    }
}
