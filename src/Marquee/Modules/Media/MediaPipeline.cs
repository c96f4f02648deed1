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
/// The durable media job runner (worker role). The assets table is the queue: a <c>Received</c> asset (highest priority
/// first, then oldest; not before its back-off time) is claimed by a conditional update to <c>Probing</c> that also takes a
/// lease (this worker's id and an expiry), then probed (→ <c>Rejected</c>), transcoded, encrypted and published (→ <c>Ready</c>).
/// While it runs, a heartbeat renews the lease, writes the progress and looks for an operator's cancel request, all in the
/// database, so that consoles and <c>marquee ingest --wait</c> in other processes see it and a cancel works from any process.
/// A failure that is not a rejection is retried with back-off up to <see cref="MediaOptions.MaxAttempts"/>, then <c>Failed</c>.
/// Recovery (at start and every lease period) requeues only jobs whose lease lapsed (their worker died) and deletes the staging
/// folders of jobs no live worker holds, so several worker processes can share one database without taking each other's jobs.
/// <see cref="MediaOptions.MaxConcurrentJobs"/> runners work side by side in one process.
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
    private const string CancelledReason = "Cancelled by an operator.";

    /// <summary>The jobs this process runs now: alive by definition, whatever their lease says (a late heartbeat gives them up itself).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, byte> running = new();

    /// <summary>This worker instance: its leases carry this id (machine, process and a random part, as one process may restart with the same id).</summary>
    public string WorkerId { get; } = NewWorkerId();

    private static string NewWorkerId()
    {
        var id = $"{Environment.ProcessId}/{Guid.NewGuid():N}@{Environment.MachineName}";
        return id.Length > 200 ? id[..200] : id;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Tool.Sandboxed(options.Value))
        {
            LogSandboxed(options.Value.ToolMemoryLimitMb);
        }
        else
        {
            LogNotSandboxed(options.Value.Sandbox);
        }

        var runners = Enumerable.Range(0, options.Value.MaxConcurrentJobs).Select(_ => RunLoopAsync(stoppingToken)).ToList();
        runners.Add(RecoveryLoopAsync(stoppingToken));
        await Task.WhenAll(runners);
    }

    private async Task RunLoopAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
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

    private async Task RecoveryLoopAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var every = options.Value.LeaseDuration;
            try
            {
                if (await RecoverAsync(stoppingToken) > 0)
                {
                    signal.Wake();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // recovery is tried again on its next round (the database may not answer yet at start)
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogLoopFailed(e);
                every = options.Value.PollInterval;
            }

            try
            {
                await Task.Delay(every, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Puts back in the queue the jobs whose worker stopped renewing its lease (killed, or its machine gone), cancels those an
    /// operator asked to cancel, fails those interrupted <see cref="MediaOptions.MaxAttempts"/> times, and deletes staging
    /// folders that no live job owns. Returns how many jobs went back in the queue.
    /// </summary>
    public async Task<int> RecoverAsync(CancellationToken cancellationToken)
    {
        // Listed before the leases are read: a folder made after this belongs to a job claimed (leased) after it, never swept.
        var staging = storage.StagingFolders();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
        var now = clock.GetUtcNow();
        var max = options.Value.MaxAttempts;
        var mine = WorkerId;
        var lapsed = db.Assets.Where(a => (a.State == AssetState.Probing || a.State == AssetState.Transcoding)
                                          && (a.LeaseExpiresAt == null || a.LeaseExpiresAt < now)
                                          && (a.LeaseOwner == null || a.LeaseOwner != mine));
        var cancelled = await lapsed.Where(a => a.CancelRequested).ExecuteUpdateAsync(s => s
            .SetProperty(a => a.State, AssetState.Cancelled)
            .SetProperty(a => a.Reason, CancelledReason)
            .SetProperty(a => a.CancelRequested, false)
            .SetProperty(a => a.LeaseOwner, (string?)null)
            .SetProperty(a => a.LeaseExpiresAt, (DateTimeOffset?)null)
            .SetProperty(a => a.UpdatedAt, now), cancellationToken);
        var failed = await lapsed.Where(a => a.Attempts >= max).ExecuteUpdateAsync(s => s
            .SetProperty(a => a.State, AssetState.Failed)
            .SetProperty(a => a.Reason, $"Interrupted {max} time(s): the worker stopped while processing it (killed, out of memory, or its machine went away).")
            .SetProperty(a => a.LeaseOwner, (string?)null)
            .SetProperty(a => a.LeaseExpiresAt, (DateTimeOffset?)null)
            .SetProperty(a => a.UpdatedAt, now), cancellationToken);
        var requeued = await lapsed.ExecuteUpdateAsync(s => s
            .SetProperty(a => a.State, AssetState.Received)
            .SetProperty(a => a.LeaseOwner, (string?)null)
            .SetProperty(a => a.LeaseExpiresAt, (DateTimeOffset?)null)
            .SetProperty(a => a.NotBefore, (DateTimeOffset?)null)
            .SetProperty(a => a.UpdatedAt, now), cancellationToken);

        var live = (await db.Assets.AsNoTracking()
                .Where(a => (a.State == AssetState.Probing || a.State == AssetState.Transcoding) && a.LeaseExpiresAt >= now)
                .Select(a => a.Id).ToListAsync(cancellationToken))
            .ToHashSet();
        live.UnionWith(running.Keys);
        var swept = 0;
        foreach (var (assetId, folder) in staging)
        {
            if (assetId is not { } id || !live.Contains(id))
            {
                Packager.DeleteQuietly(folder);
                swept++;
            }
        }

        if (requeued > 0 || cancelled > 0 || failed > 0 || swept > 0)
        {
            LogRecovered(requeued, cancelled, failed, swept);
        }

        return requeued;
    }

    /// <summary>Claims and processes the next queued asset; false when there was none.</summary>
    public async Task<bool> RunNextAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
        var now = clock.GetUtcNow();
        var candidate = await db.Assets.AsNoTracking()
            .Where(a => a.State == AssetState.Received && (a.NotBefore == null || a.NotBefore <= now))
            .OrderByDescending(a => a.Priority).ThenBy(a => a.CreatedAt).ThenBy(a => a.Id)
            .Select(a => (Guid?)a.Id)
            .FirstOrDefaultAsync(cancellationToken);
        if (candidate is not { } id)
        {
            return false;
        }

        // The claim: only one worker moves it from Received to Probing, and takes the lease.
        var claimed = await db.Assets.Where(a => a.Id == id && a.State == AssetState.Received)
            .ExecuteUpdateAsync(s => s
                .SetProperty(a => a.State, AssetState.Probing)
                .SetProperty(a => a.LeaseOwner, WorkerId)
                .SetProperty(a => a.LeaseExpiresAt, now + options.Value.LeaseDuration)
                .SetProperty(a => a.Attempts, a => a.Attempts + 1)
                .SetProperty(a => a.CancelRequested, false)
                .SetProperty(a => a.ProgressPercent, (double?)null)
                .SetProperty(a => a.ProgressFps, (double?)null)
                .SetProperty(a => a.ProgressSpeed, (double?)null)
                .SetProperty(a => a.ProgressRemainingMs, (long?)null)
                .SetProperty(a => a.ProgressAt, (DateTimeOffset?)null)
                .SetProperty(a => a.UpdatedAt, now), cancellationToken);
        if (claimed == 0)
        {
            return true; // another worker took it; look again
        }

        signal.Wake(); // another idle runner may take the next one
        var asset = await db.Assets.SingleAsync(a => a.Id == id, cancellationToken);
        using var job = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        running[id] = 0;
        var heartbeat = new Heartbeat(this, id, job);
        try
        {
            await ProcessAsync(db, scope.ServiceProvider.GetRequiredService<AssetKeys>(), asset, heartbeat, job.Token);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: back in the queue for the next start (the staging folder is gone already); not an attempt.
            await heartbeat.StopAsync();
            db.ChangeTracker.Clear();
            await Mine(db, id).ExecuteUpdateAsync(s => s
                .SetProperty(a => a.State, AssetState.Received)
                .SetProperty(a => a.Attempts, a => a.Attempts - 1)
                .SetProperty(a => a.LeaseOwner, (string?)null)
                .SetProperty(a => a.LeaseExpiresAt, (DateTimeOffset?)null), CancellationToken.None);
            throw;
        }
        catch (Exception e) when (job.IsCancellationRequested && e is OperationCanceledException or TranscodeFailedException or IOException)
        {
            // The heartbeat stopped the job (ffmpeg killed, staging deleted by the packager): cancelled, or no longer ours.
            await heartbeat.StopAsync();
            db.ChangeTracker.Clear();
            await StoppedAsync(db, id, heartbeat.Stopped);
        }
#pragma warning disable CA1031 // any failure of one asset is that asset's (retried or Failed, with the reason), and the runner goes on
        catch (Exception e)
#pragma warning restore CA1031
        {
            await heartbeat.StopAsync();
            LogAssetFailed(e, id, asset.Attempts);
            db.ChangeTracker.Clear();
            await FailAsync(db, id, asset.Attempts, e);
        }
        finally
        {
            await heartbeat.StopAsync();
            running.TryRemove(id, out _);
        }

        return true;
    }

    private async Task StoppedAsync(MediaDb db, Guid id, StopReason reason)
    {
        if (reason == StopReason.Cancelled)
        {
            await Mine(db, id).ExecuteUpdateAsync(s => s
                .SetProperty(a => a.State, AssetState.Cancelled)
                .SetProperty(a => a.Reason, CancelledReason)
                .SetProperty(a => a.CancelRequested, false)
                .SetProperty(a => a.LeaseOwner, (string?)null)
                .SetProperty(a => a.LeaseExpiresAt, (DateTimeOffset?)null)
                .SetProperty(a => a.UpdatedAt, clock.GetUtcNow()), CancellationToken.None);
            LogCancelled(id);
        }
        else
        {
            // Another worker's recovery may have it now: leave its row alone. If it is still ours (this worker could not
            // renew in time), put it back in the queue itself, since recovery leaves a worker's own jobs to that worker.
            await Mine(db, id).Where(a => a.State == AssetState.Probing || a.State == AssetState.Transcoding).ExecuteUpdateAsync(s => s
                .SetProperty(a => a.State, AssetState.Received)
                .SetProperty(a => a.LeaseOwner, (string?)null)
                .SetProperty(a => a.LeaseExpiresAt, (DateTimeOffset?)null)
                .SetProperty(a => a.UpdatedAt, clock.GetUtcNow()), CancellationToken.None);
            LogLeaseLost(id);
        }
    }

    private IQueryable<Asset> Mine(MediaDb db, Guid id) => db.Assets.Where(a => a.Id == id && a.LeaseOwner == WorkerId);

    private async Task FailAsync(MediaDb db, Guid id, int attempts, Exception e)
    {
        // Shown to operators (jobs API, console, library) and to the command line: one line, no server path (R31).
        var reason = FailureReason.ForPeople(e is TranscodeFailedException or InvalidOperationException ? e.Message : $"{e.GetType().Name}: {e.Message}", storage.ServerFolders)!;
        var now = clock.GetUtcNow();
        if (attempts < options.Value.MaxAttempts)
        {
            var delay = RetryDelay(attempts);
            var note = FailureReason.ForPeople($"Attempt {attempts} of {options.Value.MaxAttempts} failed: {reason} Retrying after {delay}.")!;
            await Mine(db, id).ExecuteUpdateAsync(s => s
                .SetProperty(a => a.State, AssetState.Received)
                .SetProperty(a => a.Reason, note)
                .SetProperty(a => a.NotBefore, now + delay)
                .SetProperty(a => a.LeaseOwner, (string?)null)
                .SetProperty(a => a.LeaseExpiresAt, (DateTimeOffset?)null)
                .SetProperty(a => a.UpdatedAt, now), CancellationToken.None);
            return;
        }

        await Mine(db, id).ExecuteUpdateAsync(s => s
            .SetProperty(a => a.State, AssetState.Failed)
            .SetProperty(a => a.Reason, reason)
            .SetProperty(a => a.LeaseOwner, (string?)null)
            .SetProperty(a => a.LeaseExpiresAt, (DateTimeOffset?)null)
            .SetProperty(a => a.UpdatedAt, now), CancellationToken.None);
    }

    /// <summary>The back-off before retry number <paramref name="attempt"/> + 1: the base delay doubled per attempt, at most an hour.</summary>
    internal TimeSpan RetryDelay(int attempt)
    {
        var delay = options.Value.RetryBaseDelay * Math.Pow(2, Math.Clamp(attempt - 1, 0, 20));
        return delay > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : delay;
    }

    private async Task ProcessAsync(MediaDb db, AssetKeys keys, Asset asset, Heartbeat heartbeat, CancellationToken cancellationToken)
    {
        var outcome = await probe.InspectAsync(storage.Sources, asset.SourcePath, cancellationToken);
        if (outcome is MediaRejected rejected)
        {
            rejected = rejected with { Reason = FailureReason.ForPeople(rejected.Reason, storage.ServerFolders)! };
            asset.State = AssetState.Rejected;
            asset.Reason = rejected.Reason;
            asset.LeaseOwner = null;
            asset.LeaseExpiresAt = null;
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
        var packaged = await packager.PackageAsync(asset.Id, Probe.InsideFolder(storage.Sources, asset.SourcePath), info,
            storage.Published, key, heartbeat, cancellationToken);

        await heartbeat.StopAsync();
        db.ChangeTracker.Clear(); // the heartbeat wrote progress meanwhile; write the end state over it
        var done = await db.Assets.SingleAsync(a => a.Id == asset.Id, CancellationToken.None);
        done.State = AssetState.Ready;
        done.Reason = null;
        done.LeaseOwner = null;
        done.LeaseExpiresAt = null;
        done.CancelRequested = false; // too late: it is published
        done.NotBefore = null;
        done.ProgressPercent = 100;
        done.ProgressRemainingMs = 0;
        done.ProgressAt = clock.GetUtcNow();
        done.UpdatedAt = clock.GetUtcNow();
        db.Publish(new AssetReady(asset.Id, asset.TitleId, info.Duration, packaged.Ladder.IsAudioOnly));
        await db.SaveChangesAsync(CancellationToken.None); // published on disk: record it even if shutdown began
        LogReady(asset.Id, packaged.Ladder.Video.Count, packaged.Ladder.Audio.Count);
    }

    private IServiceScopeFactory Scopes => scopes;

    private MediaOptions Options => options.Value;

    private TimeProvider Clock => clock;

    private enum StopReason
    {
        None,
        Cancelled,
        LeaseLost,
    }

    /// <summary>
    /// One running job's heartbeat: every <see cref="MediaOptions.HeartbeatInterval"/> one conditional update renews the lease
    /// and writes the latest progress, if the job is still this worker's and nobody asked to cancel it; when it is not, the
    /// job's token is cancelled (which kills ffmpeg). A worker that cannot renew its lease in time gives the job up too.
    /// </summary>
    private sealed class Heartbeat : IProgress<TranscodeProgress>
    {
        private readonly MediaPipeline pipeline;
        private readonly Guid assetId;
        private readonly CancellationTokenSource job;
        private readonly CancellationTokenSource stop = new();
        private readonly Task beating;
        private TranscodeProgress? latest;

        public Heartbeat(MediaPipeline pipeline, Guid assetId, CancellationTokenSource job)
        {
            this.pipeline = pipeline;
            this.assetId = assetId;
            this.job = job;
            beating = Task.Run(RunAsync, CancellationToken.None);
        }

        public StopReason Stopped { get; private set; }

        public void Report(TranscodeProgress value) => Volatile.Write(ref latest, value);

        private async Task RunAsync()
        {
            var options = pipeline.Options;
            var renewed = pipeline.Clock.GetUtcNow();
            using var timer = new PeriodicTimer(options.HeartbeatInterval, pipeline.Clock);
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token))
                {
                    try
                    {
                        var now = pipeline.Clock.GetUtcNow();
                        if (await BeatAsync(now))
                        {
                            renewed = now;
                            continue;
                        }

                        Stopped = await CancelRequestedAsync() ? StopReason.Cancelled : StopReason.LeaseLost;
                        await job.CancelAsync();
                        return;
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested)
                    {
                        return;
                    }
#pragma warning disable CA1031 // a database hiccup: try again on the next beat, unless the lease ran out meanwhile
                    catch (Exception e)
#pragma warning restore CA1031
                    {
                        pipeline.LogHeartbeatFailed(e, assetId);
                        if (pipeline.Clock.GetUtcNow() - renewed > options.LeaseDuration)
                        {
                            Stopped = StopReason.LeaseLost;
                            await job.CancelAsync();
                            return;
                        }
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // stopped
            }
        }

        private async Task<bool> BeatAsync(DateTimeOffset now)
        {
            await using var scope = pipeline.Scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
            var p = Volatile.Read(ref latest);
            var query = pipeline.Mine(db, assetId)
                .Where(a => !a.CancelRequested && (a.State == AssetState.Probing || a.State == AssetState.Transcoding));
            var expires = now + pipeline.Options.LeaseDuration;
            var changed = p is null
                ? await query.ExecuteUpdateAsync(s => s.SetProperty(a => a.LeaseExpiresAt, expires), stop.Token)
                : await query.ExecuteUpdateAsync(s => s
                    .SetProperty(a => a.LeaseExpiresAt, expires)
                    .SetProperty(a => a.ProgressPercent, Math.Round(p.Percent, 1))
                    .SetProperty(a => a.ProgressFps, Math.Round(p.Fps, 1))
                    .SetProperty(a => a.ProgressSpeed, Math.Round(p.Speed, 2))
                    .SetProperty(a => a.ProgressRemainingMs, p.Remaining.HasValue ? (long?)p.Remaining.Value.TotalMilliseconds : null)
                    .SetProperty(a => a.ProgressAt, now), stop.Token);
            return changed == 1;
        }

        private async Task<bool> CancelRequestedAsync()
        {
            await using var scope = pipeline.Scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
            return await pipeline.Mine(db, assetId).AnyAsync(a => a.CancelRequested, CancellationToken.None);
        }

        /// <summary>Stops the beating and waits for a beat in flight (idempotent).</summary>
        public async Task StopAsync()
        {
            if (!stop.IsCancellationRequested)
            {
                await stop.CancelAsync();
            }

            await beating;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Media: recovery put {Requeued} interrupted job(s) back in the queue, cancelled {Cancelled}, failed {Failed}, deleted {Swept} stale staging folder(s)")]
    private partial void LogRecovered(int requeued, int cancelled, int failed, int swept);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media: ffmpeg and ffprobe run inside bubblewrap (no network, only their own files; memory limit {MemoryMb} MiB, 0 = none)")]
    private partial void LogSandboxed(int memoryMb);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Media: ffmpeg and ffprobe run WITHOUT a sandbox (Marquee:Media:Sandbox is {Mode}; install bubblewrap for Auto to use it): a hostile source is confined only by the format and protocol allow-lists")]
    private partial void LogNotSandboxed(ToolSandboxMode mode);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media: asset {AssetId} rejected: {Reason}")]
    private partial void LogRejected(Guid assetId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media: asset {AssetId} ready ({Video} video, {Audio} audio renditions)")]
    private partial void LogReady(Guid assetId, int video, int audio);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media: asset {AssetId} cancelled by an operator; nothing was published")]
    private partial void LogCancelled(Guid assetId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Media: asset {AssetId}: this worker lost its lease (no heartbeat in time); it stopped working on it")]
    private partial void LogLeaseLost(Guid assetId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Media: heartbeat of asset {AssetId} failed")]
    private partial void LogHeartbeatFailed(Exception e, Guid assetId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Media: asset {AssetId} failed (attempt {Attempt})")]
    private partial void LogAssetFailed(Exception e, Guid assetId, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Media: the pipeline loop failed; retrying after the poll interval")]
    private partial void LogLoopFailed(Exception e);
}
