using Microsoft.Extensions.Options;

namespace Marquee.Platform.Hosting;

/// <summary>
/// <c>&lt;DataDir&gt;/marquee.lock</c>: every running host (serve, demo, a command that starts the host) holds a shared lock
/// on it (flock through .NET's file sharing) while it runs; <c>marquee backup create</c> and <c>restore</c> take it
/// exclusively, so they refuse to run over a data folder a server is using, and a server refuses to start while they run.
/// The lock goes with the process (a crash releases it). Not on file systems where .NET does not lock (NFS, SMB), nor with
/// <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING</c> set.
/// </summary>
internal sealed class DataFolderLock(IOptions<MarqueeOptions> options) : IHostedService, IDisposable
{
    private FileStream? held;

    public static string PathIn(string fullDataDir) => Path.Combine(fullDataDir, "marquee.lock");

    /// <summary>Takes the shared lock (once); throws <see cref="StartupException"/> while a backup or restore holds the folder.</summary>
    public void Acquire()
    {
        if (held is not null)
        {
            return;
        }

        var dir = options.Value.FullDataDir;
        Directory.CreateDirectory(dir);
        try
        {
            held = new FileStream(PathIn(dir), FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (IOException)
        {
            throw new StartupException($"The data folder {dir} is held by 'marquee backup' (a backup or a restore is running): start when it has finished.");
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Acquire();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        held?.Dispose();
        held = null;
    }

    /// <summary>The lock held exclusively (dispose to release it), or null when a running host holds it.</summary>
    public static FileStream? TryExclusive(string fullDataDir)
    {
        Directory.CreateDirectory(fullDataDir);
        try
        {
            return new FileStream(PathIn(fullDataDir), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
