using System.ComponentModel.DataAnnotations;
using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Marquee.Platform.Audit;
using Marquee.Platform.Web;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Media;

/// <summary>How far a running job has got, as its worker last wrote it to the database.</summary>
internal sealed record JobProgress(double Percent, double? Fps, double? Speed, TimeSpan? Remaining, DateTimeOffset At);

/// <summary>One asset as the console's job list and the jobs API show it, with the progress its worker wrote (any process).</summary>
internal sealed record MediaJob(Guid AssetId, Guid TitleId, string Source, AssetState State, string? Reason, int Priority, int Attempts,
    bool CancelRequested, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, JobProgress? Progress)
{
    /// <summary>Failed and Cancelled jobs can be tried again by an operator.</summary>
    public bool CanRetry => State is AssetState.Failed or AssetState.Cancelled;

    /// <summary>Queued and running jobs can be cancelled.</summary>
    public bool CanCancel => State is AssetState.Received or AssetState.Probing or AssetState.Transcoding && !CancelRequested;

    internal static MediaJob Of(Asset a) => new(a.Id, a.TitleId, a.SourcePath, a.State, FailureReason.ForPeople(a.Reason), a.Priority, a.Attempts, a.CancelRequested,
        a.CreatedAt, a.UpdatedAt,
        a.ProgressPercent is { } p && a.ProgressAt is { } at && a.State is AssetState.Probing or AssetState.Transcoding
            ? new JobProgress(p, a.ProgressFps, a.ProgressSpeed, a.ProgressRemainingMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, at)
            : null);
}

/// <summary>A new priority for a job: higher runs first.</summary>
internal sealed record NewPriority([property: Range(MediaJobs.MinPriority, MediaJobs.MaxPriority)] int Priority);

/// <summary>The result of an operator's action on a job.</summary>
internal abstract record JobChange
{
    public sealed record Done(MediaJob Job) : JobChange;

    public sealed record NotFound : JobChange;

    public sealed record WrongState(AssetState State, string Detail) : JobChange;
}

/// <summary>The pipeline's queue as operators see and steer it: list, retry, cancel, priority. Every change is audited.</summary>
internal sealed class MediaJobs(IServiceScopeFactory scopes, MediaPipelineSignal signal, TimeProvider clock)
{
    public const int MinPriority = -1000;

    public const int MaxPriority = 1000;

    public async Task<IReadOnlyList<MediaJob>> ListAsync(int take, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
        var assets = await db.Assets.AsNoTracking().OrderByDescending(a => a.CreatedAt).Take(Math.Clamp(take, 1, 1000)).ToListAsync(cancellationToken);
        return [.. assets.Select(MediaJob.Of)];
    }

    public async Task<MediaJob?> FindAsync(Guid assetId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
        var asset = await db.Assets.AsNoTracking().SingleOrDefaultAsync(a => a.Id == assetId, cancellationToken);
        return asset is null ? null : MediaJob.Of(asset);
    }

    /// <summary>Puts a Failed or Cancelled job back in the queue with a fresh attempt count (an operator's retry after fixing the cause).</summary>
    public async Task<JobChange> RetryAsync(Guid assetId, RequestActor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
        var now = clock.GetUtcNow();
        var changed = await db.Assets.Where(a => a.Id == assetId && (a.State == AssetState.Failed || a.State == AssetState.Cancelled))
            .ExecuteUpdateAsync(s => s
                .SetProperty(a => a.State, AssetState.Received)
                .SetProperty(a => a.Reason, (string?)null)
                .SetProperty(a => a.Attempts, 0)
                .SetProperty(a => a.NotBefore, (DateTimeOffset?)null)
                .SetProperty(a => a.CancelRequested, false)
                .SetProperty(a => a.UpdatedAt, now), cancellationToken);
        if (changed == 0)
        {
            return await RefusalAsync(db, assetId, "Only a Failed or Cancelled job can be retried.", cancellationToken);
        }

        await AuditAsync(scope, actor, "media.asset-retried", assetId, null, cancellationToken);
        signal.Wake();
        return await DoneAsync(db, assetId, cancellationToken);
    }

    /// <summary>
    /// Cancels a job: a queued one becomes Cancelled at once; a running one is flagged, and its worker (in whichever process)
    /// kills ffmpeg, deletes its staging folder and marks it Cancelled on its next heartbeat. Nothing is published.
    /// </summary>
    public async Task<JobChange> CancelAsync(Guid assetId, RequestActor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
        var now = clock.GetUtcNow();
        var queued = await db.Assets.Where(a => a.Id == assetId && a.State == AssetState.Received)
            .ExecuteUpdateAsync(s => s
                .SetProperty(a => a.State, AssetState.Cancelled)
                .SetProperty(a => a.Reason, "Cancelled by an operator.")
                .SetProperty(a => a.NotBefore, (DateTimeOffset?)null)
                .SetProperty(a => a.UpdatedAt, now), cancellationToken);
        var running = queued > 0 ? 0 : await db.Assets
            .Where(a => a.Id == assetId && (a.State == AssetState.Probing || a.State == AssetState.Transcoding) && !a.CancelRequested)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.CancelRequested, true).SetProperty(a => a.UpdatedAt, now), cancellationToken);
        if (queued + running == 0)
        {
            return await RefusalAsync(db, assetId, "Only a queued or running job can be cancelled.", cancellationToken);
        }

        await AuditAsync(scope, actor, "media.asset-cancelled", assetId, queued > 0 ? "queued" : "running", cancellationToken);
        return await DoneAsync(db, assetId, cancellationToken);
    }

    /// <summary>Sets a job's priority (higher runs first); it matters while the job is queued.</summary>
    public async Task<JobChange> SetPriorityAsync(Guid assetId, int priority, RequestActor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentOutOfRangeException.ThrowIfLessThan(priority, MinPriority);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(priority, MaxPriority);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
        var changed = await db.Assets.Where(a => a.Id == assetId)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.Priority, priority).SetProperty(a => a.UpdatedAt, clock.GetUtcNow()), cancellationToken);
        if (changed == 0)
        {
            return new JobChange.NotFound();
        }

        await AuditAsync(scope, actor, "media.asset-priority-set", assetId, $"priority {priority}", cancellationToken);
        return await DoneAsync(db, assetId, cancellationToken);
    }

    private static async Task<JobChange> DoneAsync(MediaDb db, Guid assetId, CancellationToken cancellationToken) =>
        new JobChange.Done(MediaJob.Of(await db.Assets.AsNoTracking().SingleAsync(a => a.Id == assetId, cancellationToken)));

    private static async Task<JobChange> RefusalAsync(MediaDb db, Guid assetId, string rule, CancellationToken cancellationToken)
    {
        var state = await db.Assets.AsNoTracking().Where(a => a.Id == assetId).Select(a => (AssetState?)a.State).SingleOrDefaultAsync(cancellationToken);
        return state is { } s ? new JobChange.WrongState(s, $"{rule} This one is {s}.") : new JobChange.NotFound();
    }

    private static Task AuditAsync(AsyncServiceScope scope, RequestActor actor, string action, Guid assetId, string? details, CancellationToken cancellationToken) =>
        scope.ServiceProvider.GetRequiredService<IAuditLog>().RecordAsync(new AuditRecord(actor.Name, action, $"asset:{assetId}", actor.From, details), cancellationToken);
}
