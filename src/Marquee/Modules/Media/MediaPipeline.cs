using System.Collections.Concurrent;
using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Media;

/// <summary>Wakes the pipeline when a source arrives, instead of waiting for its next poll.</summary>
internal sealed class MediaPipelineSignal
{
    private readonly SemaphoreSlim signal = new(0, 1);

    public void Wake()
    {
        if (signal.CurrentCount == 0)
        {
            try
            {
                signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // woken already
            }
        }
    }

    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => signal.WaitAsync(timeout, cancellationToken);
}

/// <summary>
/// The durable media job runner (worker role). The assets table is the queue: a <c>Received</c> asset is claimed by a
/// conditional update to <c>Probing</c>, then probed (→ <c>Rejected</c>), transcoded, encrypted and published
/// (→ <c>Ready</c>) or marked <c>Failed</c>. One asset at a time: one transcode already uses both cores.
/// On start, assets left in Probing/Transcoding by a crash go back to Received and stale staging folders are deleted.
/// </summary>
internal sealed partial class MediaPipeline(
    IServiceScopeFactory scopes,
    MediaStorage storage,
    MediaPipelineSignal signal,
    Probe probe,
    Packager packager,
    IOptions<MediaOptions> options,
    TimeProvider clock,
    ILogger<MediaPipeline> logger) : BackgroundService
{
    /// <summary>Progress of the transcodes running now, by asset (for consoles to show).</summary>
    public ConcurrentDictionary<Guid, TranscodeProgress> Running { get; } = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var recovered = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!recovered)
                {
                    await RecoverAsync(stoppingToken); // retried each poll until the database answers
                    recovered = true;
                }

                if (await RunNextAsync(stoppingToken))
                {
                    continue;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // the runner must outlive one bad iteration (a database hiccup); the error is logged
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogLoopFailed(e);
            }

            try
            {
                await signal.WaitAsync(options.Value.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Puts back in the queue what a crash interrupted and deletes half-written staging folders.</summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
        var now = clock.GetUtcNow();
        var reset = await db.Assets
            .Where(a => a.State == AssetState.Probing || a.State == AssetState.Transcoding)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.State, AssetState.Received).SetProperty(a => a.UpdatedAt, now), cancellationToken);
        var swept = storage.SweepStaging();
        if (reset > 0 || swept > 0)
        {
            LogRecovered(reset, swept);
        }
    }

    /// <summary>Claims and processes the oldest received asset; false when there was none.</summary>
    public async Task<bool> RunNextAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
        var candidate = await db.Assets.AsNoTracking()
            .Where(a => a.State == AssetState.Received)
            .OrderBy(a => a.CreatedAt)
            .Select(a => (Guid?)a.Id)
            .FirstOrDefaultAsync(cancellationToken);
        if (candidate is not { } id)
        {
            return false;
        }

        // The claim: only one worker moves it from Received to Probing.
        var claimed = await db.Assets.Where(a => a.Id == id && a.State == AssetState.Received)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.State, AssetState.Probing).SetProperty(a => a.UpdatedAt, clock.GetUtcNow()), cancellationToken);
        if (claimed == 0)
        {
            return true; // another worker took it; look again
        }

        var asset = await db.Assets.SingleAsync(a => a.Id == id, cancellationToken);
        try
        {
            await ProcessAsync(db, scope.ServiceProvider.GetRequiredService<AssetKeys>(), asset, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: back in the queue for the next start (the staging folder is gone already).
            db.ChangeTracker.Clear();
            await db.Assets.Where(a => a.Id == id)
                .ExecuteUpdateAsync(s => s.SetProperty(a => a.State, AssetState.Received), CancellationToken.None);
            throw;
        }
#pragma warning disable CA1031 // any failure of one asset marks that asset Failed, with the reason, and the runner goes on
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogAssetFailed(e, id);
            db.ChangeTracker.Clear();
            var reason = e is TranscodeFailedException or InvalidOperationException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            await db.Assets.Where(a => a.Id == id).ExecuteUpdateAsync(s => s
                .SetProperty(a => a.State, AssetState.Failed)
                .SetProperty(a => a.Reason, reason.Length > 2000 ? reason[..2000] : reason)
                .SetProperty(a => a.UpdatedAt, clock.GetUtcNow()), CancellationToken.None);
        }
        finally
        {
            Running.TryRemove(id, out _);
        }

        return true;
    }

    private async Task ProcessAsync(MediaDb db, AssetKeys keys, Asset asset, CancellationToken cancellationToken)
    {
        var outcome = await probe.InspectAsync(storage.Sources, asset.SourcePath, cancellationToken);
        if (outcome is MediaRejected rejected)
        {
            asset.State = AssetState.Rejected;
            asset.Reason = rejected.Reason;
            asset.UpdatedAt = clock.GetUtcNow();
            db.Publish(new AssetRejected(asset.Id, asset.TitleId, rejected.Reason));
            await db.SaveChangesAsync(cancellationToken);
            LogRejected(asset.Id, rejected.Reason);
            return;
        }

        var info = ((MediaAccepted)outcome).Info;
        asset.State = AssetState.Transcoding;
        asset.ProbeJson = ((MediaAccepted)outcome).ProbeJson;
        asset.DurationMs = (long)info.Duration.TotalMilliseconds;
        asset.UpdatedAt = clock.GetUtcNow();
        await db.SaveChangesAsync(cancellationToken);

        // A retry after a crash finds the key made the first time; the published files will be encrypted with it.
        var key = await keys.FindAsync(asset.Id, cancellationToken) ?? await keys.CreateAsync(asset.Id, cancellationToken);
        var progress = new Progress(p => Running[asset.Id] = p);
        var packaged = await packager.PackageAsync(asset.Id, Probe.InsideFolder(storage.Sources, asset.SourcePath), info,
            storage.Published, key, progress, cancellationToken);

        asset.State = AssetState.Ready;
        asset.Reason = null;
        asset.UpdatedAt = clock.GetUtcNow();
        db.Publish(new AssetReady(asset.Id, asset.TitleId, info.Duration, packaged.Ladder.IsAudioOnly));
        await db.SaveChangesAsync(CancellationToken.None); // published on disk: record it even if shutdown began
        LogReady(asset.Id, packaged.Ladder.Video.Count, packaged.Ladder.Audio.Count);
    }

    private sealed class Progress(Action<TranscodeProgress> report) : IProgress<TranscodeProgress>
    {
        public void Report(TranscodeProgress value) => report(value);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Media: put {Reset} interrupted asset(s) back in the queue, deleted {Swept} stale staging folder(s)")]
    private partial void LogRecovered(int reset, int swept);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media: asset {AssetId} rejected: {Reason}")]
    private partial void LogRejected(Guid assetId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media: asset {AssetId} ready ({Video} video, {Audio} audio renditions)")]
    private partial void LogReady(Guid assetId, int video, int audio);

    [LoggerMessage(Level = LogLevel.Error, Message = "Media: asset {AssetId} failed")]
    private partial void LogAssetFailed(Exception e, Guid assetId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Media: the pipeline loop failed; retrying after the poll interval")]
    private partial void LogLoopFailed(Exception e);
}
