using Marquee.Platform.Web;
using Microsoft.Extensions.Options;

namespace Marquee.Media.Uploads;

/// <summary>
/// Hands an upload that has all its bytes to every <see cref="IUploadCompletion"/>, and only then marks it completed.
/// When a step fails (the database is away, the disk is full) the bytes stay and the upload stays incomplete;
/// <see cref="UploadSweeper"/> tries again, so a finished upload always reaches the pipeline exactly once.
/// </summary>
internal sealed partial class UploadHandOff(IServiceScopeFactory scopes, UploadStore store, ILogger<UploadHandOff> logger)
{
    /// <summary>True when the upload is handed on and marked completed; false (logged) when it is to be tried again.</summary>
    public async Task<bool> TryHandOffAsync(Guid id, RequestActor actor, CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            foreach (var completion in scope.ServiceProvider.GetServices<IUploadCompletion>())
            {
                // Read again before each step: an earlier step may have recorded what it did (the title it made).
                var current = await store.FindAsync(id, cancellationToken) ?? throw new InvalidOperationException($"Upload {id:N} vanished.");
                await completion.CompletedAsync(current, store.DataPath(id), actor, cancellationToken);
            }

            var done = await store.FindAsync(id, cancellationToken) ?? throw new InvalidOperationException($"Upload {id:N} vanished.");
            await store.MarkCompletedAsync(done, cancellationToken);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // any failure leaves the upload whole and incomplete, to be tried again; it is logged
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogHandOffFailed(e, id);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Uploads: upload {UploadId} has all its bytes but could not be handed to the pipeline; it will be tried again")]
    private partial void LogHandOffFailed(Exception e, Guid uploadId);
}

/// <summary>
/// Runs where uploads are received (the web role): hands on uploads whose hand-off failed, and deletes uploads past
/// their expiry (an unfinished one with its bytes; a completed one's record, its file having moved to the sources).
/// </summary>
internal sealed partial class UploadSweeper(UploadStore store, UploadHandOff handOff, IOptions<UploadOptions> options, TimeProvider time,
    ILogger<UploadSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        do
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // the sweeper must outlive one bad pass; the error is logged
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogSweepFailed(e);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var info in await store.ListAsync(cancellationToken))
        {
            using var held = await store.TryLockAsync(info.Id);
            if (held is null)
            {
                continue; // a request is writing to it now
            }

            if (info.ExpiresAt < now)
            {
                store.Delete(info.Id);
                LogExpired(info.Id, info.Completed);
            }
            else if (!info.Completed && (info.Received || store.OffsetOf(info.Id) == info.Length))
            {
                if (!info.Received)
                {
                    await store.MarkReceivedAsync(info, cancellationToken); // the server stopped between the last byte and this record
                }

                await handOff.TryHandOffAsync(info.Id, new RequestActor(info.CreatedBy, null), cancellationToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Uploads: deleted expired upload {UploadId} (completed: {Completed})")]
    private partial void LogExpired(Guid uploadId, bool completed);

    [LoggerMessage(Level = LogLevel.Error, Message = "Uploads: the sweep failed; trying again at the next interval")]
    private partial void LogSweepFailed(Exception e);
}
