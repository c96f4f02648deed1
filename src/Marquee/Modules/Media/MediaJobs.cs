using Marquee.Media.Contracts;
using Marquee.Media.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Media;

/// <summary>One asset as the console's job list shows it, with live progress when this process is transcoding it.</summary>
internal sealed record MediaJob(Guid AssetId, Guid TitleId, string Source, AssetState State, string? Reason, DateTimeOffset UpdatedAt,
    double? Percent, double? Fps, TimeSpan? Remaining);

/// <summary>The pipeline's queue, newest first, for the console.</summary>
internal sealed class MediaJobs(IServiceScopeFactory scopes, MediaPipeline pipeline)
{
    public async Task<IReadOnlyList<MediaJob>> ListAsync(int take, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
        var assets = await db.Assets.AsNoTracking().OrderByDescending(a => a.CreatedAt).Take(take).ToListAsync(cancellationToken);
        return [.. assets.Select(a =>
        {
            var running = pipeline.Running.TryGetValue(a.Id, out var p) ? p : null;
            return new MediaJob(a.Id, a.TitleId, a.SourcePath, a.State, a.Reason, a.UpdatedAt, running?.Percent, running?.Fps, running?.Remaining);
        })];
    }

    /// <summary>Puts a failed asset back in the queue (an operator's retry after fixing the cause).</summary>
    public async Task<bool> RetryAsync(Guid assetId, Marquee.Platform.Web.RequestActor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MediaDb>();
        var changed = await db.Assets.Where(a => a.Id == assetId && a.State == AssetState.Failed)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.State, AssetState.Received).SetProperty(a => a.Reason, (string?)null), cancellationToken);
        if (changed == 1)
        {
            scope.ServiceProvider.GetRequiredService<MediaPipelineSignal>().Wake();
            await scope.ServiceProvider.GetRequiredService<Marquee.Platform.Audit.IAuditLog>().RecordAsync(
                new Marquee.Platform.Audit.AuditRecord(actor.Name, "media.asset-retried", $"asset:{assetId}", actor.From), cancellationToken);
        }

        return changed == 1;
    }
}
