using System.Diagnostics;

namespace Marquee.Media;

/// <summary>The result of one run of an external tool: its exit code, its standard output (unless streamed) and the tail of its standard error.</summary>
internal sealed record ToolRun(int ExitCode, string Output, string Errors)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The last line the tool wrote to standard error, for a reason a person can read.</summary>
    public string LastError => Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? $"exit code {ExitCode}";
}

/// <summary>How the media tools are confined (see <see cref="MediaOptions.Sandbox"/>).</summary>
internal enum ToolSandboxMode
{
    Auto,
    Bubblewrap,
    None,
}

/// <summary>
/// What one run of a media tool may touch: the files or folders it reads (bound read-only) and the one folder it writes
/// (bound read-write; a folder that exists). Everything else on the machine is invisible to it inside the sandbox.
/// </summary>
internal sealed record ToolAccess(IReadOnlyList<string> Read, string? Write)
{
    public static ToolAccess Reading(string path, string? writeFolder = null) => new([path], writeFolder);

    public static ToolAccess WritingOnly(string writeFolder) => new([], writeFolder);
}

/// <summary>Runs ffmpeg and ffprobe: arguments as a list (never a shell string), output read as it comes, the whole process tree killed on cancellation.</summary>
internal static class Tool
{
    private const int ErrorLinesKept = 200;

    private static readonly Lazy<string?> Bwrap = new(() => OnPath("bwrap"));

    private static readonly Lazy<string?> Prlimit = new(() => OnPath("prlimit"));

    /// <summary>Whether bubblewrap is installed (on PATH).</summary>
    public static bool SandboxAvailable => Bwrap.Value is not null;

    /// <summary>Whether runs under <paramref name="options"/> are sandboxed; throws when Bubblewrap is asked for and not installed.</summary>
    public static bool Sandboxed(MediaOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Sandbox switch
        {
            ToolSandboxMode.None => false,
            ToolSandboxMode.Auto => Bwrap.Value is not null,
            _ => Bwrap.Value is not null
                ? true
                : throw new InvalidOperationException("Marquee:Media:Sandbox is Bubblewrap but 'bwrap' is not on PATH (apt install bubblewrap)."),
        };
    }

    /// <summary>
    /// Runs a media tool confined as <paramref name="options"/> say: inside bubblewrap with only <paramref name="access"/>'s
    /// paths visible (inputs read-only, one writable folder), no network, no IPC, its own PID namespace, killed when this
    /// process dies (even by SIGKILL: <c>--die-with-parent</c>), and under <c>prlimit</c>'s memory and CPU limits.
    /// </summary>
    public static async Task<ToolRun> RunConfinedAsync(
        MediaOptions options,
        string executable,
        ToolAccess access,
        IEnumerable<string> arguments,
        Action<string>? onOutputLine,
        CancellationToken cancellationToken,
        string? workingDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(access);
        // A tool that is not installed is the machine's failure, not the file's: say so as an unconfined start would,
        // rather than let the sandbox's own error read like ffmpeg refusing the file.
        if (!(executable.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal) ? File.Exists(Path.GetFullPath(executable)) : OnPath(executable) is not null))
        {
            throw new InvalidOperationException($"Could not start '{executable}': not found. Set Marquee:Media:FfmpegPath / FfprobePath.");
        }

        var command = ConfinedCommand(options, executable, access, workingDirectory);
        var run = await RunUnconfinedAsync(command[0], [.. command.Skip(1), .. arguments], onOutputLine, cancellationToken, workingDirectory);
        // The sandbox itself failing (bwrap's own message, e.g. a namespace it could not make) is the machine's failure,
        // not the file's: raise it so the attempt is retried rather than the source rejected.
        if (!run.Succeeded && run.Errors.Split('\n').FirstOrDefault(l => l.StartsWith("bwrap:", StringComparison.Ordinal)) is { } sandboxError)
        {
            throw new InvalidOperationException($"Could not start '{executable}' in its sandbox: {sandboxError}");
        }

        // Ended by a signal without a word (killed from outside: the machine's memory, an operator, a dying parent) is not
        // the file's answer either: retried. A file that crashes the tool the same way each time fails after the attempts.
        if (run.ExitCode > 128 && string.IsNullOrWhiteSpace(run.Errors))
        {
            throw new InvalidOperationException($"'{Path.GetFileName(executable)}' was ended by signal {run.ExitCode - 128} before it said anything.");
        }

        return run;
    }

    /// <summary>The command line (before the tool's own arguments) that confines one run: prlimit, bwrap and their options, then the tool.</summary>
    internal static List<string> ConfinedCommand(MediaOptions options, string executable, ToolAccess access, string? workingDirectory)
    {
        var command = new List<string>();
        if (Prlimit.Value is { } prlimit && (options.ToolMemoryLimitMb > 0 || options.ToolCpuLimitSeconds > 0))
        {
            command.Add(prlimit);
            if (options.ToolMemoryLimitMb > 0)
            {
                command.Add($"--as={(long)options.ToolMemoryLimitMb * 1024 * 1024}");
            }

            if (options.ToolCpuLimitSeconds > 0)
            {
                command.Add($"--cpu={options.ToolCpuLimitSeconds}");
            }

            command.Add("--");
        }

        if (!Sandboxed(options))
        {
            command.Add(executable);
            return command;
        }

        command.AddRange([Bwrap.Value!, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]);
        // The system's programs and libraries, read-only; merged-/usr systems link /bin, /lib and /lib64 into /usr.
        command.AddRange(["--ro-bind", "/usr", "/usr"]);
        foreach (var top in (string[])["/bin", "/sbin", "/lib", "/lib32", "/lib64"])
        {
            var info = new FileInfo(top);
            if (info.LinkTarget is { } target)
            {
                command.AddRange(["--symlink", target, top]);
            }
            else if (Directory.Exists(top))
            {
                command.AddRange(["--ro-bind", top, top]);
            }
        }

        // What the dynamic loader and the codecs' libraries read at start (library cache, alternatives links, fonts for subtitles).
        foreach (var etc in (string[])["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/fonts"])
        {
            command.AddRange(["--ro-bind-try", etc, etc]);
        }

        command.AddRange(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
        if (executable.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            executable = Path.GetFullPath(executable); // a path relative to this process means nothing inside the sandbox
            if (!executable.StartsWith("/usr/", StringComparison.Ordinal))
            {
                command.AddRange(["--ro-bind", executable, executable]);
            }
        }

        foreach (var read in access.Read)
        {
            var full = Path.GetFullPath(read);
            command.AddRange(["--ro-bind", full, full]);
        }

        if (access.Write is { } write)
        {
            var full = Path.GetFullPath(write);
            command.AddRange(["--bind", full, full]);
        }

        if (workingDirectory is not null)
        {
            command.AddRange(["--chdir", Path.GetFullPath(workingDirectory)]);
        }

        command.Add("--");
        command.Add(executable);
        return command;
    }

    private static string? OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => Path.Combine(folder, name))
        .FirstOrDefault(File.Exists);

    /// <summary>
    /// Runs a tool as it is, without the sandbox: for <see cref="RunConfinedAsync"/> and for tests making their sources.
    /// The product never calls it directly (<c>ToolSandboxTests.Product_RunsMediaToolsOnlyConfined</c> checks the sources).
    /// </summary>
    public static async Task<ToolRun> RunUnconfinedAsync(
        string executable,
        IEnumerable<string> arguments,
        Action<string>? onOutputLine,
        CancellationToken cancellationToken,
        string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = new Process { StartInfo = start };
        try
        {
            await Launcher.StartAsync(process);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"Could not start '{executable}': {e.Message}. Set Marquee:Media:FfmpegPath / FfprobePath.", e);
        }

        process.StandardInput.Close(); // ffmpeg reads commands from stdin ('q' to stop); give it none

        var output = new System.Text.StringBuilder();
        var errors = new Queue<string>();
        var readOutput = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync(CancellationToken.None) is { } line)
            {
                if (onOutputLine is null)
                {
                    output.AppendLine(line);
                }
                else
                {
                    onOutputLine(line);
                }
            }
        }, CancellationToken.None);
        var readErrors = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync(CancellationToken.None) is { } line)
            {
                lock (errors)
                {
                    errors.Enqueue(line);
                    if (errors.Count > ErrorLinesKept)
                    {
                        errors.Dequeue();
                    }
                }
            }
        }, CancellationToken.None);

        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }

            await process.WaitForExitAsync(CancellationToken.None);
            throw;
        }

        await Task.WhenAll(readOutput, readErrors);
        lock (errors)
        {
            return new ToolRun(process.ExitCode, output.ToString(), string.Join('\n', errors));
        }
    }
}

/// <summary>
/// Starts child processes from one thread that lives as long as this process. Linux sends a child's parent-death signal
/// (<c>PR_SET_PDEATHSIG</c>, which bubblewrap's <c>--die-with-parent</c> sets to SIGKILL) when the <em>thread</em> that
/// forked it ends, not the process: a child started from a thread-pool thread was killed whenever the pool retired that
/// thread (idle threads end after a while, most often after a burst of load), which showed up as ffmpeg or ffprobe
/// "ended by signal 9 before it said anything" at random moments under load. From this thread a child dies with the
/// server, as meant, and only then.
/// </summary>
internal static class Launcher
{
    private static readonly System.Collections.Concurrent.BlockingCollection<(Process Process, TaskCompletionSource Started)> Queue = [];

    static Launcher()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "Marquee process launcher" };
        thread.Start();
    }

    public static Task StartAsync(Process process)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Queue.Add((process, started));
        return started.Task;
    }

    private static void Run()
    {
        foreach (var (process, started) in Queue.GetConsumingEnumerable())
        {
            try
            {
                process.Start();
                started.SetResult();
            }
            catch (Exception e)
            {
                started.SetException(e);
            }
        }
    }
}
