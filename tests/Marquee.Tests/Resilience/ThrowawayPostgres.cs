using System.Diagnostics;
using Marquee.Tests.Support;

namespace Marquee.Tests.Resilience;

/// <summary>
/// A PostgreSQL cluster of the test's own (Debian's postgresql package, as scripts/test installs it) on a free loopback
/// port, so that a test may restart or kill it without touching the suite's shared server. Run as root, the server runs
/// as the <c>postgres</c> user (initdb refuses root).
/// </summary>
public sealed class ThrowawayPostgres : IAsyncLifetime
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "marquee-tests", "pg-" + Guid.NewGuid().ToString("N"));

    public int Port { get; } = MarqueeProcess.FreePort();

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres";

    private string Data => Path.Combine(dir, "data");

    private static bool IsRoot => Environment.UserName == "root";

    private static string Bin =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                  .Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderBy(b => b, StringComparer.Ordinal).LastOrDefault()
              ?? throw new InvalidOperationException("no PostgreSQL server under /usr/lib/postgresql: install the postgresql package (scripts/test does)")
            : throw new InvalidOperationException("no PostgreSQL server under /usr/lib/postgresql: install the postgresql package (scripts/test does)");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(dir);
        if (IsRoot)
        {
            await RunAsync("chown", "postgres", dir);
        }

        await PgAsync("initdb", "-D", Data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync");
        await PgAsync("pg_ctl", "-D", Data, "-l", Path.Combine(dir, "server.log"), "-w", "-t", "60",
            "-o", $"-p {Port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", "start");
    }

    /// <summary><c>pg_ctl -m immediate restart</c>: the server stops without a checkpoint (as on a crash), recovers from its WAL and is back when this returns.</summary>
    public Task RestartImmediateAsync() => PgAsync("pg_ctl", "-D", Data, "-l", Path.Combine(dir, "server.log"), "-m", "immediate", "-w", "-t", "60", "restart");

    /// <summary><c>pg_ctl -m immediate stop</c>: the server is gone (connections refused) when this returns.</summary>
    public Task StopAsync() => PgAsync("pg_ctl", "-D", Data, "-m", "immediate", "-w", "-t", "60", "stop");

    /// <summary>Starts it again after <see cref="StopAsync"/> (recovering from its WAL); up when this returns.</summary>
    public Task StartAgainAsync() => PgAsync("pg_ctl", "-D", Data, "-l", Path.Combine(dir, "server.log"), "-w", "-t", "60",
        "-o", $"-p {Port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", "start");

    public async Task DisposeAsync()
    {
        try
        {
            await PgAsync("pg_ctl", "-D", Data, "-m", "immediate", "-w", "stop");
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }

        Directory.Delete(dir, recursive: true);
    }

    private Task PgAsync(string tool, params string[] arguments) =>
        IsRoot ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(Bin, tool), .. arguments]) : RunAsync(Path.Combine(Bin, tool), arguments);

    private Task RunAsync(string tool, params string[] arguments) => RunToolAsync(dir, tool, arguments);

    /// <summary>Runs a PostgreSQL tool (or any) in <paramref name="dir"/>, within 2 minutes; throws with its stderr when it fails.</summary>
    internal static async Task RunToolAsync(string dir, string tool, params string[] arguments)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = dir };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{tool} did not start");
        // pg_ctl start leaves the server holding its output: read to the process's exit, not to the streams' end.
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited with {process.ExitCode}: {stderr}");
        }
    }
}
