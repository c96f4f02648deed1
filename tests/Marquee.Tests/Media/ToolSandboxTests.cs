using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Marquee.Media;
using Marquee.Tests.Support;

namespace Marquee.Tests.Media;

/// <summary>
/// ffmpeg inside the sandbox (R12, R13, R14): it sees no file but the binaries and the paths a run is given, writes only
/// into its one folder, reaches no network, and dies when the process that started it is killed. Each test has its
/// negative control: the same run without the sandbox does what the sandbox prevents, so the probe can fail.
/// </summary>
[Trait("Category", "Media")]
[Collection("Media")]
public sealed class ToolSandboxTests : IAsyncLifetime
{
    private static readonly MediaOptions Confined = new() { Sandbox = ToolSandboxMode.Bubblewrap };

    private static readonly MediaOptions Open = new() { Sandbox = ToolSandboxMode.None };

    private readonly string folder = Path.Combine(Path.GetTempPath(), "marquee-tests", "sandbox-" + Guid.NewGuid().ToString("N"));

    public Task InitializeAsync()
    {
        Assert.True(Tool.SandboxAvailable, "bubblewrap is not installed (apt install bubblewrap; scripts/test installs it)");
        Directory.CreateDirectory(Path.Combine(folder, "in"));
        Directory.CreateDirectory(Path.Combine(folder, "out"));
        Directory.CreateDirectory(Path.Combine(folder, "elsewhere"));
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(folder, recursive: true);
        return Task.CompletedTask;
    }

    private async Task<string> ToneAsync()
    {
        var tone = Path.Combine(folder, "in", "tone.wav");
        await MediaSources.FfmpegAsync(["-f", "lavfi", "-i", "sine=frequency=440:duration=1", tone]);
        return tone;
    }

    [Fact]
    public void Product_RunsMediaToolsOnlyConfined()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Marquee.slnx")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var sources = Directory.GetFiles(Path.Combine(root.FullName, "src"), "*.cs", SearchOption.AllDirectories);
        Assert.Contains(sources, f => f.EndsWith("Tool.cs", StringComparison.Ordinal));
        var unconfined = sources.Where(f => !f.EndsWith(Path.Combine("Media", "Tool.cs"), StringComparison.Ordinal)
                                            && File.ReadAllText(f).Contains("RunUnconfinedAsync", StringComparison.Ordinal));
        Assert.Empty(unconfined);
    }

    [Fact]
    public async Task Confined_ReadingAFileItWasNotGiven_FindsNothingThere()
    {
        var tone = await ToneAsync();
        string[] readPasswd = ["-v", "error", "-show_format", "file:/etc/passwd"];

        var confined = await Tool.RunConfinedAsync(Confined, "ffprobe", ToolAccess.Reading(tone), readPasswd, null, CancellationToken.None);
        var open = await Tool.RunConfinedAsync(Open, "ffprobe", ToolAccess.Reading(tone), readPasswd, null, CancellationToken.None);
        var given = await Tool.RunConfinedAsync(Confined, "ffprobe", ToolAccess.Reading(tone), ["-v", "error", "-show_format", "file:" + tone], null, CancellationToken.None);

        Assert.False(confined.Succeeded);
        Assert.Contains("No such file or directory", confined.Errors, StringComparison.Ordinal);
        Assert.DoesNotContain("No such file", open.Errors, StringComparison.Ordinal); // control: without the sandbox the file is there (and not media)
        Assert.True(given.Succeeded, given.Errors);
        Assert.Contains("format_name=wav", given.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Confined_WritingOutsideItsFolder_IsRefused_AndInsideItWorks()
    {
        var tone = await ToneAsync();
        var outside = Path.Combine(folder, "elsewhere", "copy.wav");
        var inside = Path.Combine(folder, "out", "copy.wav");
        var access = ToolAccess.Reading(tone, Path.Combine(folder, "out"));

        var refused = await Tool.RunConfinedAsync(Confined, "ffmpeg", access, ["-v", "error", "-i", "file:" + tone, "-y", "file:" + outside], null, CancellationToken.None);
        var allowed = await Tool.RunConfinedAsync(Confined, "ffmpeg", access, ["-v", "error", "-i", "file:" + tone, "-y", "file:" + inside], null, CancellationToken.None);
        var control = await Tool.RunConfinedAsync(Open, "ffmpeg", access, ["-v", "error", "-i", "file:" + tone, "-y", "file:" + outside], null, CancellationToken.None);

        Assert.False(refused.Succeeded);
        Assert.True(allowed.Succeeded, allowed.Errors);
        Assert.True(File.Exists(inside));
        Assert.True(control.Succeeded, control.Errors); // control: the same output path is writable without the sandbox
    }

    [Fact]
    public async Task Confined_OpeningANetworkAddress_ReachesNothing()
    {
        var tone = await ToneAsync();
        using var canary = new TcpListener(IPAddress.Loopback, 0);
        canary.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)canary.LocalEndpoint).Port}/x.m3u8";
        string[] fetch = ["-v", "error", "-rw_timeout", "3000000", "-i", url, "-f", "null", "-"];

        var confined = await Tool.RunConfinedAsync(Confined, "ffmpeg", ToolAccess.Reading(tone), fetch, null, CancellationToken.None);
        var hitsWhileConfined = 0;
        while (canary.Pending())
        {
            (await canary.AcceptTcpClientAsync()).Dispose();
            hitsWhileConfined++;
        }

        // Control: unconfined, the same run connects (the canary counts it), which proves the canary can see a hit.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var open = Tool.RunConfinedAsync(Open, "ffmpeg", ToolAccess.Reading(tone), fetch, null, timeout.Token);
        using (var hit = await canary.AcceptTcpClientAsync(timeout.Token))
        {
            hit.Client.Shutdown(SocketShutdown.Both);
        }

        await open;
        Assert.False(confined.Succeeded);
        Assert.Equal(0, hitsWhileConfined);
    }

    [Fact]
    public async Task Confined_WhenItsParentIsKilledHard_DiesToo_WhereAPlainChildSurvives()
    {
        var confinedMarker = "confined-" + Guid.NewGuid().ToString("N");
        var openMarker = "open-" + Guid.NewGuid().ToString("N");
        try
        {
            await using (var parent = StartParentOf(Confined, confinedMarker))
            {
                await Poll.UntilAsync(() => Task.FromResult(FfmpegsWith(confinedMarker)), n => n > 0, TimeSpan.FromSeconds(30), "the confined ffmpeg to start");
                parent.KillParentOnly();
            }

            await using (var parent = StartParentOf(Open, openMarker))
            {
                await Poll.UntilAsync(() => Task.FromResult(FfmpegsWith(openMarker)), n => n > 0, TimeSpan.FromSeconds(30), "the plain ffmpeg to start");
                parent.KillParentOnly();
            }

            await Poll.UntilAsync(() => Task.FromResult(FfmpegsWith(confinedMarker)), n => n == 0, TimeSpan.FromSeconds(15), "the confined ffmpeg to die with its parent");
            Assert.Equal(1, FfmpegsWith(openMarker)); // control: a plain child outlives its parent's SIGKILL
        }
        finally
        {
            KillFfmpegsWith(confinedMarker);
            KillFfmpegsWith(openMarker);
        }
    }

    /// <summary>A shell that starts an endless ffmpeg (confined as <paramref name="options"/> say) and waits for it.</summary>
    private Parent StartParentOf(MediaOptions options, string marker)
    {
        var command = Tool.ConfinedCommand(options, "ffmpeg", ToolAccess.WritingOnly(Path.Combine(folder, "out")), null);
        command.AddRange(["-v", "error", "-re", "-f", "lavfi", "-i", "sine=frequency=440", "-metadata", "comment=" + marker, "-f", "null", "-"]);
        var start = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardInput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("\"$@\" & wait");
        start.ArgumentList.Add("parent");
        foreach (var a in command)
        {
            start.ArgumentList.Add(a);
        }

        return new Parent(Process.Start(start)!);
    }

    private static int FfmpegsWith(string marker) => ProcessesWith(marker).Count(p => p.Name == "ffmpeg");

    private static void KillFfmpegsWith(string marker)
    {
        foreach (var (pid, _) in ProcessesWith(marker))
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                p.Kill();
            }
            catch (ArgumentException)
            {
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    private static List<(int Pid, string Name)> ProcessesWith(string marker)
    {
        var found = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (argv.Any(a => a.Contains(marker, StringComparison.Ordinal)))
                {
                    found.Add((pid, Path.GetFileName(argv[0])));
                }
            }
            catch (IOException)
            {
                // gone meanwhile
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    private sealed class Parent(Process process) : IAsyncDisposable
    {
        public void KillParentOnly() => process.Kill(entireProcessTree: false);

        public async ValueTask DisposeAsync()
        {
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    [Fact]
    public async Task Confined_WhenEndedByASignalWithoutAWord_IsTheMachinesFailureNotTheFiles()
    {
        var limited = new MediaOptions { Sandbox = ToolSandboxMode.Bubblewrap, ToolCpuLimitSeconds = 1 };
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        string[] endless = ["-nostdin", "-v", "quiet", "-f", "lavfi", "-i", "testsrc2=size=1280x720", "-c:v", "libx264", "-f", "null", "-"];

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Tool.RunConfinedAsync(limited, "ffmpeg", ToolAccess.WritingOnly(folder), endless, null, deadline.Token));
        var worded = await Tool.RunConfinedAsync(limited, "ffprobe", ToolAccess.WritingOnly(folder), ["-v", "error", "file:/nothing-here.mp4"], null, deadline.Token);

        Assert.Contains("ended by signal", e.Message, StringComparison.Ordinal);
        Assert.False(worded.Succeeded); // control: a tool that fails and says why is the file's answer, returned as it is
        Assert.Contains("No such file", worded.Errors, StringComparison.Ordinal);
    }

    /// <summary>
    /// A confined tool started from a thread that ends before the tool does still runs to its end. Linux sends the
    /// parent-death signal (bubblewrap's <c>--die-with-parent</c>: SIGKILL) when the forking <em>thread</em> ends; the
    /// thread pool retires idle threads, and full suite runs saw ffmpeg "ended by signal 9" at random. Control: the same
    /// bwrap started directly from such a thread is killed when it ends (the mechanism is real, so the test can fail).
    /// </summary>
    [Fact]
    public async Task Confined_WhenTheThreadThatStartedItEnds_RunsToItsEnd()
    {
        // 3 s of real time (-re), with progress lines on stdout every half second.
        string[] threeSeconds = ["-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-progress", "pipe:1", "-f", "null", "-"];
        using var running = new ManualResetEventSlim();
        Task<ToolRun>? run = null;
        var starter = new Thread(() =>
        {
            run = Tool.RunConfinedAsync(Confined, "ffmpeg", ToolAccess.WritingOnly(folder), threeSeconds, _ => running.Set(), CancellationToken.None);
            running.Wait(TimeSpan.FromSeconds(30)); // the tool is up (its sandbox set its parent-death signal); then this thread ends
        });
        starter.Start();
        starter.Join();
        Assert.True(running.IsSet, "ffmpeg said nothing within 30 s");
        var result = await run!;
        Assert.True(result.Succeeded, $"exit {result.ExitCode}: {result.Errors}");

        // Control: bubblewrap forked by a thread that ends while it runs is killed with that thread.
        var command = Tool.ConfinedCommand(Confined, "ffmpeg", ToolAccess.WritingOnly(folder), null);
        Process? direct = null;
        var forker = new Thread(() =>
        {
            var start = new ProcessStartInfo(command[0]) { UseShellExecute = false, RedirectStandardOutput = true };
            foreach (var a in command.Skip(1).Concat(threeSeconds))
            {
                start.ArgumentList.Add(a);
            }

            direct = Process.Start(start)!;
            direct.StandardOutput.ReadLine(); // up and running
        });
        forker.Start();
        forker.Join();
        using (direct)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await direct!.WaitForExitAsync(deadline.Token);
            Assert.Equal(128 + 9, direct.ExitCode); // SIGKILL
        }
    }
}
