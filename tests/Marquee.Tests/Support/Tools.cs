using System.Diagnostics;
using System.Globalization;

namespace Marquee.Tests.Support;

/// <summary>External programs the tests drive (ffmpeg, node, npm): arguments as a list, never one shell string.</summary>
public static class Tools
{
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(
        string program, IEnumerable<string> arguments, string? workingDirectory = null, TimeSpan? timeout = null, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(limit.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>A short H.264/AAC clip made by ffmpeg's test sources (a moving pattern and a tone).</summary>
    public static async Task<string> MakeClipAsync(string path, int width = 640, int height = 360, int seconds = 4, int frequency = 440)
    {
        var (code, _, error) = await RunAsync("ffmpeg",
        [
            "-v", "error", "-y", "-f", "lavfi", "-i", $"testsrc2=size={width}x{height}:rate=25", "-f", "lavfi", "-i", $"sine=frequency={frequency}",
            "-t", seconds.ToString(CultureInfo.InvariantCulture), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", path,
        ]);
        Assert.True(code == 0, $"ffmpeg could not make {path}: {error}");
        return path;
    }
}
