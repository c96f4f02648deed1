using Marquee.Media;
using Microsoft.Extensions.Logging.Abstractions;

namespace Marquee.Tests.Media;

/// <summary>The 720p source probed, transcoded, encrypted and published once, for the packaging tests to inspect.</summary>
public sealed class PackagedVideo : IAsyncLifetime
{
    public MediaSources Sources { get; } = new();

    public Guid AssetId { get; } = Guid.NewGuid();

    public byte[] Key { get; } = HlsEncryption.NewKey();

    internal PackagedAsset Result { get; private set; } = null!;

    internal List<TranscodeProgress> Reports { get; } = [];

    public string Root => Path.Combine(Sources.Folder, "published");

    public async Task InitializeAsync()
    {
        await Sources.InitializeAsync();
        var options = MediaSources.Options();
        var probed = MediaSources.Accepted(await new Probe(options).InspectAsync(Sources.Folder, MediaSources.Video720, CancellationToken.None));
        var packager = new Packager(new Transcoder(options), NullLogger<Packager>.Instance);
        Result = await packager.PackageAsync(AssetId, Sources.PathOf(MediaSources.Video720), probed.Info, Root, Key,
            new SynchronousProgress<TranscodeProgress>(Reports.Add), CancellationToken.None);
    }

    public Task DisposeAsync() => Sources.DisposeAsync();
}

/// <summary>An IProgress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool, out of order).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value)
    {
        lock (this)
        {
            report(value);
        }
    }
}
