using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Support;
using Xunit.Abstractions;

namespace Marquee.Tests.Resilience;

/// <summary>
/// R5: the real <c>marquee serve</c> on a PostgreSQL of the test's own, four clients creating titles, and the database
/// restarted with <c>pg_ctl -m immediate restart</c> (no checkpoint, crash recovery from the WAL) in the middle. Checked:
/// no acknowledged write lost, none applied twice, every title audited once (the outbox drains), every failure a 503
/// problem with <c>Retry-After</c> and only for requests begun while the database was down, none at all when the restart
/// took less than 8 s (inside the retry budget: the retries hide it), the first success within 10 s of the database
/// being back, and every request answered within 20 s (retries are bounded). The negative control runs the same harness
/// with retries off (<c>Marquee:Database:MaxRetryCount=0</c>): the requests in flight during the restart fail, and the
/// harness reports it.
/// </summary>
[Trait("Category", "Resilience")]
[Collection("Media")] // child server and database restarts: not beside the heavy media tests
public sealed class PostgresRestartTests(ThrowawayPostgres postgres, ITestOutputHelper output) : IClassFixture<ThrowawayPostgres>
{
    private const string Password = "a long postgres restart passphrase";
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LongestAnswer = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan HiddenRestart = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task RestartedImmediatelyUnderWriteLoad_LosesAndDuplicatesNothing_AndFailsOnlyWhileDown()
    {
        var run = await RunAsync("R5 retry", retries: null);
        output.WriteLine(run.Summary);
        Assert.True(run.Violations.Count == 0, string.Join('\n', run.Violations));
    }

    /// <summary>
    /// The partition of R5: for 5 s every packet to the database's port on loopback is answered with a TCP reset
    /// (<c>iptables -A OUTPUT -o lo -p tcp --dport PORT -j REJECT --reject-with tcp-reset</c>, the same rule deleted by
    /// its spec afterwards), open connections included. The same invariants as the restart; needs root and iptables.
    /// </summary>
    [Fact]
    public async Task PartitionedForFiveSeconds_UnderWriteLoad_LosesAndDuplicatesNothing_AndFailsOnlyWhileCut()
    {
        var run = await RunAsync("R5 partition", retries: null, fault: PartitionAsync);
        output.WriteLine(run.Summary);
        Assert.True(run.Violations.Count == 0, string.Join('\n', run.Violations));
    }

    /// <summary>Outside CI: the partition with retries off must fail the harness (the requests cut off answer 503).</summary>
    [Fact]
    [Trait("Category", "Soak")]
    public async Task NegativeControl_PartitionWithRetriesOff_TheHarnessFails()
    {
        var run = await RunAsync("R5 partition noretry", retries: 0, fault: PartitionAsync);
        output.WriteLine(run.Summary);
        Assert.NotEmpty(run.Violations);
    }

    private async Task PartitionAsync()
    {
        string[] rule = ["OUTPUT", "-o", "lo", "-p", "tcp", "--dport", postgres.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-j", "REJECT", "--reject-with", "tcp-reset"];
        Assert.True(File.Exists("/usr/sbin/iptables"), "iptables is not installed (apt install iptables; scripts/test does it)");
        await ThrowawayPostgres.RunToolAsync(Path.GetTempPath(), "/usr/sbin/iptables", ["-A", .. rule]);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(5)); // the partition's length, not a wait for work
        }
        finally
        {
            await ThrowawayPostgres.RunToolAsync(Path.GetTempPath(), "/usr/sbin/iptables", ["-D", .. rule]);
        }
    }

    /// <summary>Outside CI (two more minutes of server and database restarts): <c>--filter Category=Soak</c>.</summary>
    [Fact]
    [Trait("Category", "Soak")]
    public async Task NegativeControl_WithRetriesOff_TheHarnessFails()
    {
        var run = await RunAsync("R5 noretry", retries: 0);
        output.WriteLine(run.Summary);
        Assert.NotEmpty(run.Violations);
    }

    private sealed record Answer(long Started, long Ended, int Status, bool Problem, bool RetryAfter);

    private sealed record Run(List<string> Violations, string Summary);

    private async Task<Run> RunAsync(string prefix, int? retries, Func<Task>? fault = null)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "marquee-tests", "r5-" + Guid.NewGuid().ToString("N"));
        try
        {
            return await RunAsync(prefix, retries, dataDir, fault ?? postgres.RestartImmediateAsync);
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    private async Task<Run> RunAsync(string prefix, int? retries, string dataDir, Func<Task> fault)
    {
        var environment = new Dictionary<string, string?>
        {
            ["Marquee__Database__Provider"] = "Postgres",
            ["ConnectionStrings__Marquee"] = postgres.ConnectionString,
            ["Marquee__DataDir"] = dataDir,
            ["Marquee__Events__PollInterval"] = "00:00:00.200",
            ["Marquee__Events__RetryBaseDelay"] = "00:00:00.200",
            ["Marquee__Events__MaxRetryDelay"] = "00:00:01",
            ["Marquee__Events__MaxAttempts"] = "100",
        };
        if (retries is { } r)
        {
            environment["Marquee__Database__MaxRetryCount"] = r.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var email = $"{prefix.Replace(' ', '-')}@marquee.test";
        await MarqueeProcess.CreateAdminAsync(environment, email, Password); // migrates on the first run
        var baseAddress = new Uri($"http://127.0.0.1:{MarqueeProcess.FreePort()}");
        await using var server = MarqueeProcess.Start(["serve", "--urls", baseAddress.ToString(), "--Marquee:Roles=web,worker"], environment);
        await server.WaitUntilReadyAsync(baseAddress, TimeSpan.FromSeconds(90));
        using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Add("Cookie", await MarqueeProcess.SignInAsync(baseAddress, email, Password));

        var answers = new ConcurrentBag<Answer>();
        var acknowledged = new ConcurrentBag<Guid>();
        var violations = new List<string>();
        var sent = 0;
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref sent);
                var started = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await client.PostAsJsonAsync("/api/catalog/titles", new { name = $"{prefix} {n}", kind = "Film" }, CancellationToken.None);
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        acknowledged.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
                    }

                    answers.Add(new Answer(started, Stopwatch.GetTimestamp(), (int)response.StatusCode,
                        response.Content.Headers.ContentType?.MediaType == "application/problem+json", response.Headers.RetryAfter is not null));
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    answers.Add(new Answer(started, Stopwatch.GetTimestamp(), 0, false, false)); // no answer at all
                }
            }
        })).ToList();

        // Load first, then the restart in the middle of it.
        await Poll.UntilAsync(() => Task.FromResult(acknowledged.Count), c => c >= 20, TimeSpan.FromSeconds(60), "20 acknowledged writes before the restart");
        var down = Stopwatch.GetTimestamp();
        await fault(); // the restart, or the partition: the database is reachable again when it returns
        var up = Stopwatch.GetTimestamp();
        var before = acknowledged.Count;
        // Load after: until 20 more writes are acknowledged, or the recovery deadline and then some has passed.
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(acknowledged.Count), c => c >= before + 20, Recovery + TimeSpan.FromSeconds(5), "20 writes after the restart");
        }
        catch (TimeoutException)
        {
            violations.Add($"only {acknowledged.Count - before} writes acknowledged in {(Recovery + TimeSpan.FromSeconds(5)).TotalSeconds} s after the database was back");
        }

        await stop.CancelAsync();
        await Task.WhenAll(writers);

        // Every failure is a 503 problem with Retry-After, for a request begun before the database was back.
        var all = answers.ToList();
        foreach (var a in all.Where(a => a.Status is not 201))
        {
            var at = $"begun {Stopwatch.GetElapsedTime(down, a.Started).TotalSeconds:+0.00;-0.00} s from the restart";
            if (a.Status == 0)
            {
                violations.Add($"no answer at all ({at})");
            }
            else if (a.Status != 503 || !a.Problem || !a.RetryAfter)
            {
                violations.Add($"answered {a.Status}{(a.Problem ? " problem" : "")}{(a.RetryAfter ? " with Retry-After" : "")} ({at})");
            }
            else if (a.Started > up)
            {
                violations.Add($"503 for a request begun {Stopwatch.GetElapsedTime(up, a.Started).TotalSeconds:0.00} s after the database was back");
            }
        }

        // A restart well inside the retry budget (6 retries, at most 2 s apart: about 11 s) is invisible to users.
        var downFor = Stopwatch.GetElapsedTime(down, up);
        var failures = all.Count(a => a.Status != 201);
        if (downFor < HiddenRestart && failures > 0)
        {
            violations.Add($"{failures} requests failed during a {downFor.TotalSeconds:0.00} s restart, shorter than the retry budget: retries should have hidden it");
        }

        var firstAfter = all.Where(a => a.Status == 201 && a.Ended > up).OrderBy(a => a.Ended).FirstOrDefault();
        var recovery = firstAfter is null ? (TimeSpan?)null : Stopwatch.GetElapsedTime(up, firstAfter.Ended);
        if (recovery is null || recovery > Recovery)
        {
            violations.Add($"first success {(recovery is null ? "never came" : $"came {recovery.Value.TotalSeconds:0.0} s")} after the database was back (limit {Recovery.TotalSeconds} s)");
        }

        var longest = all.Max(a => Stopwatch.GetElapsedTime(a.Started, a.Ended));
        if (longest > LongestAnswer)
        {
            violations.Add($"a request took {longest.TotalSeconds:0.0} s: retries are not bounded (limit {LongestAnswer.TotalSeconds} s)");
        }

        if (server.HasExited)
        {
            violations.Add($"the server exited: {server.StandardError}");
        }

        // Nothing acknowledged lost, nothing twice, every title audited once once the outbox has drained.
        List<string> invariants = [];
        try
        {
            await Poll.UntilAsync(async () =>
            {
                invariants = WrittenTitles.Verify([.. acknowledged], await WrittenTitles.ListAsync(client, prefix + " "), await WrittenTitles.AuditedAsync(client));
                return invariants.Count;
            }, c => c == 0, TimeSpan.FromSeconds(30), "the outbox to drain");
        }
        catch (TimeoutException)
        {
            violations.AddRange(invariants);
        }

        return new Run(violations,
            $"R5 ({prefix}, MaxRetryCount {retries?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"}): {all.Count} requests, {acknowledged.Count} acknowledged, " +
            $"{all.Count(a => a.Status == 503)} answered 503, {all.Count(a => a.Status is not 201 and not 503)} other failures; database unreachable for {downFor.TotalSeconds:0.00} s; " +
            $"first success {recovery?.TotalSeconds.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) ?? "never"} s after; longest request {longest.TotalSeconds:0.00} s; {violations.Count} violations" +
            (violations.Count > 0 ? ":\n  " + string.Join("\n  ", violations.Take(10)) : ""));
    }
}
