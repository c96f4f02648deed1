using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Marquee.Tests.Support;

/// <summary>The <c>marquee</c> program run as a real process (as an operator runs it), for exit codes, messages and kill -9.</summary>
public sealed class MarqueeProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder stdout = new();
    private readonly StringBuilder stderr = new();

    private MarqueeProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string StandardOutput { get { lock (stdout) { return stdout.ToString(); } } }

    public string StandardError { get { lock (stderr) { return stderr.ToString(); } } }

    public int Id => process.Id;

    public bool HasExited => process.HasExited;

    public static string ProgramPath => Path.Combine(AppContext.BaseDirectory, "marquee.dll");

    public static MarqueeProcess Start(IEnumerable<string> arguments, IDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        info.ArgumentList.Add(ProgramPath);
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        // Dynamic PGO instruments every method at start: a third more CPU for a process that lives seconds (see docs/architecture.md).
        info.Environment["DOTNET_TieredPGO"] = "0";
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }

        return new MarqueeProcess(Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start"));
    }

    /// <summary>Runs a command to its end and returns its exit code (with output collected).</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IEnumerable<string> arguments, IDictionary<string, string?>? environment = null, TimeSpan? timeout = null, string? stdin = null)
    {
        await using var p = Start(arguments, environment);
        if (stdin is not null)
        {
            await p.process.StandardInput.WriteLineAsync(stdin);
        }

        p.process.StandardInput.Close();
        // A command's cold start on a 2-core machine shared with two other test passes has taken over a minute: by
        // default as long as a server's start (ReadyTimeout). On a timeout, say what the command printed so far.
        var limit = timeout ?? ReadyTimeout;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await p.process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException e)
        {
            throw new TimeoutException($"marquee {string.Join(' ', arguments)} did not exit within {limit.TotalSeconds:F0} s\n--- its output ---\n{p.StandardOutput}{p.StandardError}", e);
        }

        p.process.WaitForExit(); // flush the asynchronous readers (returns at once: the process has exited)
        return (p.process.ExitCode, p.StandardOutput, p.StandardError);
    }

    /// <summary>
    /// <c>marquee admin create</c> on this data folder and database (password on standard input), then a sign-in through
    /// the running server's API: the session cookie as a <c>Cookie</c> header value, for a client of that server.
    /// </summary>
    public static async Task<string> CreateAdminAsync(IDictionary<string, string?> environment, string email, string password)
    {
        var (code, stdout, stderr) = await RunAsync(["admin", "create", "--email", email, "--password-stdin", "--Marquee:Database:MigrateOnStart=true"], environment, TimeSpan.FromSeconds(90), password);
        return code == 0 ? stdout : throw new InvalidOperationException($"admin create exited with {code}: {stderr}{stdout}");
    }

    public static async Task<string> SignInAsync(Uri baseAddress, string email, string password)
    {
        using var client = new HttpClient { BaseAddress = baseAddress };
        var response = await System.Net.Http.Json.HttpClientJsonExtensions.PostAsJsonAsync(client, "/api/identity/signin", new { email, password });
        return response.StatusCode == HttpStatusCode.NoContent
            ? MarqueeApp.SessionCookie(response)
            : throw new InvalidOperationException($"sign-in answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// How long a harness waits for a started server: generous, since a cold start (JIT, migrations check) on a 2-core
    /// machine shared with two other test passes has taken over 90 s; how fast it starts is not what these tests test.
    /// </summary>
    public static TimeSpan ReadyTimeout { get; } = TimeSpan.FromMinutes(3);

    public async Task WaitUntilReadyAsync(Uri baseAddress, TimeSpan timeout)
    {
        using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
        var last = "no answer yet";
        try
        {
            await Poll.UntilAsync(async () =>
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"marquee exited with {process.ExitCode}: {StandardError}{StandardOutput}");
                }

                try
                {
                    using var response = await client.GetAsync("/health/ready");
                    last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                    return response.IsSuccessStatusCode;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    last = ex.Message;
                    return false; // not listening yet, or too busy to answer in time: ask again until the deadline
                }
            }, ok => ok, timeout, "marquee to be ready");
        }
        catch (TimeoutException e)
        {
            // Say why: a readiness check failing, or a server still starting (and what it logged so far).
            throw new TimeoutException($"marquee (pid {process.Id}) was not ready within {timeout.TotalSeconds:F0} s; /health/ready last said: {last}\n--- its output ---\n{StandardOutput}{StandardError}", e);
        }
    }

    /// <summary>SIGKILL to the server process alone, as the kernel's OOM killer or a crash would: its children are left to fend for themselves.</summary>
    public async Task KillServerOnlyAsync()
    {
        process.Kill(entireProcessTree: false);
        await process.WaitForExitAsync();
    }

    /// <summary>SIGKILL to the server and every process it started: no shutdown code runs, as when the machine stops.</summary>
    public async Task KillHardAsync()
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            await KillHardAsync();
        }

        process.Dispose();
    }
}
