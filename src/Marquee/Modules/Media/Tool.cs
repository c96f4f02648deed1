using System.Diagnostics;

namespace Marquee.Media;

/// <summary>The result of one run of an external tool: its exit code, its standard output (unless streamed) and the tail of its standard error.</summary>
internal sealed record ToolRun(int ExitCode, string Output, string Errors)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The last line the tool wrote to standard error, for a reason a person can read.</summary>
    public string LastError => Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? $"exit code {ExitCode}";
}

/// <summary>Runs ffmpeg and ffprobe: arguments as a list (never a shell string), output read as it comes, the whole process tree killed on cancellation.</summary>
internal static class Tool
{
    private const int ErrorLinesKept = 200;

    public static async Task<ToolRun> RunAsync(
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
            process.Start();
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
