using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Support;
using Xunit.Abstractions;

namespace Marquee.Tests.Resilience;

/// <summary>
/// R6: the real <c>marquee serve</c> on a PostgreSQL primary with a streaming standby made by <c>pg_basebackup -R</c>,
/// both of the test's own on loopback ports; four clients create titles; the primary is killed with <c>kill -9</c>
/// (postmaster and its backends at once) and the standby promoted with <c>pg_ctl promote</c>. The server reaches the
/// new primary through its multi-host connection string
/// (<c>Host=127.0.0.1:p1,127.0.0.1:p2;Target Session Attributes=primary;Host Recheck Seconds=1</c>).
/// With <c>synchronous_standby_names='*'</c>: no acknowledged write lost. Asynchronous: the loss is measured and
/// printed; only recovery and consistency are asserted. Negative control: a connection string naming only the old
/// primary never recovers, and the harness says so. Outside CI (<c>--filter Category=Soak</c>).
/// </summary>
[Trait("Category", "Soak")]
[Collection("Media")]
public sealed class PostgresFailoverTests(ITestOutputHelper output)
{
    private const string Password = "a long postgres failover passphrase";
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task SynchronousStandby_PromotedAfterKill9_LosesNoAcknowledgedWrite_AndServesAgain()
    {
        var run = await RunAsync("R6 sync", synchronous: true, bothHosts: true);
        output.WriteLine(run.Summary);
        Assert.True(run.Violations.Count == 0, string.Join('\n', run.Violations));
        Assert.Equal(0, run.Lost);
    }

    [Fact]
    public async Task AsynchronousStandby_PromotedAfterKill9_Recovers_AndMeasuresTheLoss()
    {
        var run = await RunAsync("R6 async", synchronous: false, bothHosts: true);
        output.WriteLine(run.Summary);
        Assert.True(run.Violations.Count == 0, string.Join('\n', run.Violations));
    }

    [Fact]
    public async Task NegativeControl_OnlyTheOldPrimaryInTheConnectionString_NeverRecovers()
    {
        var run = await RunAsync("R6 onehost", synchronous: true, bothHosts: false);
        output.WriteLine(run.Summary);
        Assert.NotEmpty(run.Violations);
    }

    private sealed record Run(List<string> Violations, int Lost, string Summary);

    private async Task<Run> RunAsync(string prefix, bool synchronous, bool bothHosts)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "marquee-tests", "r6-" + Guid.NewGuid().ToString("N"));
        await using var pair = new PostgresPair(synchronous);
        try
        {
            await pair.StartAsync();
            return await RunAsync(prefix, pair, bothHosts, dataDir);
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    private async Task<Run> RunAsync(string prefix, PostgresPair pair, bool bothHosts, string dataDir)
    {
        var hosts = bothHosts ? $"127.0.0.1:{pair.PrimaryPort},127.0.0.1:{pair.StandbyPort}" : $"127.0.0.1:{pair.PrimaryPort}";
        var environment = new Dictionary<string, string?>
        {
            ["Marquee__Database__Provider"] = "Postgres",
            // Npgsql refuses Target Session Attributes with a single host: the negative control names the old primary alone.
            ["ConnectionStrings__Marquee"] = $"Host={hosts};Username=postgres;Database=postgres;Timeout=5" + (bothHosts ? ";Target Session Attributes=primary;Host Recheck Seconds=1" : ""),
            ["Marquee__DataDir"] = dataDir,
            ["Marquee__Events__PollInterval"] = "00:00:00.200",
            ["Marquee__Events__RetryBaseDelay"] = "00:00:00.200",
            ["Marquee__Events__MaxRetryDelay"] = "00:00:01",
            ["Marquee__Events__MaxAttempts"] = "100",
        };

        var email = $"{prefix.Replace(' ', '-')}@marquee.test";
        await MarqueeProcess.CreateAdminAsync(environment, email, Password);
        var baseAddress = new Uri($"http://127.0.0.1:{MarqueeProcess.FreePort()}");
        await using var server = MarqueeProcess.Start(["serve", "--urls", baseAddress.ToString(), "--Marquee:Roles=web,worker"], environment);
        await server.WaitUntilReadyAsync(baseAddress, TimeSpan.FromSeconds(90));
        using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Add("Cookie", await MarqueeProcess.SignInAsync(baseAddress, email, Password));

        var acknowledged = new ConcurrentBag<(Guid Id, long At)>();
        var statuses = new ConcurrentBag<int>();
        var violations = new List<string>();
        var sent = 0;
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref sent);
                try
                {
                    using var response = await client.PostAsJsonAsync("/api/catalog/titles", new { name = $"{prefix} {n}", kind = "Film" }, CancellationToken.None);
                    statuses.Add((int)response.StatusCode);
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        acknowledged.Add(((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid(), Stopwatch.GetTimestamp()));
                    }
                    else
                    {
                        await Task.Delay(100, CancellationToken.None); // a failing server is not hammered in a tight loop
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    statuses.Add(0);
                }
            }
        })).ToList();

        await Poll.UntilAsync(() => Task.FromResult(acknowledged.Count), c => c >= 40, TimeSpan.FromSeconds(60), "40 acknowledged writes before the failover");
        var killed = Stopwatch.GetTimestamp();
        await pair.KillPrimaryAsync();
        var ackedBeforeKill = acknowledged.Count;
        await pair.PromoteStandbyAsync();
        var promoted = Stopwatch.GetTimestamp();
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(acknowledged.Count(a => a.At > promoted)), c => c >= 20, Recovery, "20 writes after the promotion");
        }
        catch (TimeoutException)
        {
            violations.Add($"only {acknowledged.Count(a => a.At > promoted)} writes acknowledged in {Recovery.TotalSeconds} s after the promotion");
        }

        await stop.CancelAsync();
        await Task.WhenAll(writers);
        var firstAfter = acknowledged.Where(a => a.At > promoted).Select(a => a.At).DefaultIfEmpty().Min();
        var recovery = firstAfter == 0 ? (TimeSpan?)null : Stopwatch.GetElapsedTime(promoted, firstAfter);
        if (server.HasExited)
        {
            violations.Add($"the server exited: {server.StandardError}");
        }

        // What the new primary holds: every title present exactly once and audited once; acknowledged ones missing are the loss.
        var lost = -1;
        List<string> invariants = ["not read"];
        try
        {
            await Poll.UntilAsync(async () =>
            {
                var titles = await WrittenTitles.ListAsync(client, prefix + " ");
                var present = titles.Select(t => t.Id).ToHashSet();
                lost = acknowledged.Count(a => !present.Contains(a.Id));
                invariants = WrittenTitles.Verify([.. acknowledged.Select(a => a.Id).Where(present.Contains)], titles, await WrittenTitles.AuditedAsync(client));
                return invariants.Count;
            }, c => c == 0, TimeSpan.FromSeconds(30), "the outbox to drain on the new primary");
        }
        catch (Exception e) when (e is TimeoutException or HttpRequestException)
        {
            violations.AddRange(invariants.Count > 0 ? invariants : [$"could not read back: {e.Message}"]);
        }

        if (pair.Synchronous && lost != 0)
        {
            violations.Add($"{lost} acknowledged writes lost with a synchronous standby");
        }

        var all = statuses.ToList();
        return new Run(violations, lost,
            $"R6 ({prefix}, {(pair.Synchronous ? "synchronous" : "asynchronous")} standby, {(bothHosts ? "both hosts" : "old primary only")}): {all.Count} requests, " +
            $"{acknowledged.Count} acknowledged ({ackedBeforeKill} before the kill), {lost} acknowledged but lost, {all.Count(s => s == 503)} answered 503, " +
            $"{all.Count(s => s is not 201 and not 503)} other failures ({string.Join(", ", all.Where(s => s is not 201 and not 503).GroupBy(s => s).Select(g => $"{g.Count()}x {(g.Key == 0 ? "no answer" : g.Key.ToString(CultureInfo.InvariantCulture))}"))}); kill to promotion {Stopwatch.GetElapsedTime(killed, promoted).TotalSeconds:0.00} s; " +
            $"first success {recovery?.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) ?? "never"} s after the promotion; {violations.Count} violations" +
            (violations.Count > 0 ? ":\n  " + string.Join("\n  ", violations.Take(10)) : ""));
    }

    /// <summary>A primary and a standby (<c>pg_basebackup -R -X stream</c>) of the test's own on free loopback ports.</summary>
    private sealed class PostgresPair(bool synchronous) : IAsyncDisposable
    {
        private readonly string dir = Path.Combine(Path.GetTempPath(), "marquee-tests", "pgpair-" + Guid.NewGuid().ToString("N"));

        public bool Synchronous => synchronous;

        public int PrimaryPort { get; } = MarqueeProcess.FreePort();

        public int StandbyPort { get; } = MarqueeProcess.FreePort();

        private string Primary => Path.Combine(dir, "primary");

        private string Standby => Path.Combine(dir, "standby");

        public async Task StartAsync()
        {
            Directory.CreateDirectory(dir);
            if (PgTools.IsRoot)
            {
                await PgTools.RunAsync(dir, "chown", "postgres", dir);
            }

            await PgTools.PgAsync(dir, "initdb", "-D", Primary, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync");
            var sync = synchronous ? " -c synchronous_standby_names='*'" : "";
            await PgTools.PgAsync(dir, "pg_ctl", "-D", Primary, "-l", Path.Combine(dir, "primary.log"), "-w", "-t", "60",
                "-o", $"-p {PrimaryPort} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100 -c wal_level=replica{sync}", "start");
            await PgTools.PgAsync(dir, "pg_basebackup", "-D", Standby, "-h", "127.0.0.1", "-p", PrimaryPort.ToString(CultureInfo.InvariantCulture),
                "-U", "postgres", "-R", "-X", "stream", "--no-sync");
            await PgTools.PgAsync(dir, "pg_ctl", "-D", Standby, "-l", Path.Combine(dir, "standby.log"), "-w", "-t", "60",
                "-o", $"-p {StandbyPort} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100 -c cluster_name=standby", "start");
        }

        /// <summary><c>kill -9</c> of the primary's postmaster and every backend at once (as a crashed machine).</summary>
        public async Task KillPrimaryAsync()
        {
            var postmaster = (await File.ReadAllLinesAsync(Path.Combine(Primary, "postmaster.pid")))[0].Trim();
            var (_, children, _) = await PgTools.OutputAsync("ps", "-o", "pid=", "--ppid", postmaster);
            await PgTools.RunAsync(dir, "kill", ["-9", postmaster, .. children.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]);
        }

        public Task PromoteStandbyAsync() => PgTools.PgAsync(dir, "pg_ctl", "-D", Standby, "-w", "-t", "60", "promote");

        public async ValueTask DisposeAsync()
        {
            foreach (var data in new[] { Standby, Primary })
            {
                try
                {
                    if (File.Exists(Path.Combine(data, "postmaster.pid")))
                    {
                        await PgTools.PgAsync(dir, "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop");
                    }
                }
                catch (InvalidOperationException)
                {
                    // already stopped (the killed primary leaves its pid file behind)
                }
            }

            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static class PgTools
    {
        public static bool IsRoot => Environment.UserName == "root";

        private static string Bin =>
            (Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                    .Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderBy(b => b, StringComparer.Ordinal).LastOrDefault()
                : null)
            ?? throw new InvalidOperationException("no PostgreSQL server under /usr/lib/postgresql: install the postgresql package");

        public static Task PgAsync(string dir, string tool, params string[] arguments) =>
            IsRoot ? RunAsync(dir, "runuser", ["-u", "postgres", "--", Path.Combine(Bin, tool), .. arguments]) : RunAsync(dir, Path.Combine(Bin, tool), arguments);

        public static async Task<(int ExitCode, string Stdout, string Stderr)> OutputAsync(string tool, params string[] arguments)
        {
            var info = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in arguments)
            {
                info.ArgumentList.Add(a);
            }

            using var process = Process.Start(info) ?? throw new InvalidOperationException($"{tool} did not start");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, await stdout, await stderr);
        }

        public static Task RunAsync(string dir, string tool, params string[] arguments) => ThrowawayPostgres.RunToolAsync(dir, tool, arguments);
    }
}
