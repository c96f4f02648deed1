using Marquee.Rights.Contracts;
using Marquee.Rights.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Rights;

/// <summary>An expiry alert as the console and API show it.</summary>
internal sealed record AlertView(Guid LicenceId, string LicenceName, int DaysAhead, DateTimeOffset EndsAt, DateTimeOffset RaisedAt);

/// <summary>
/// Raises <see cref="LicenceExpiring"/> when a licence enters the last 30, 7 or 1 days of its window: once per licence
/// and threshold, recorded in the same transaction as the event (a restart or a second worker raises nothing twice).
/// A licence first seen inside several thresholds raises only the tightest.
/// </summary>
internal sealed class ExpiryAlerts(RightsDb db, IOptions<RightsOptions> options, TimeProvider time)
{
    public async Task<int> CheckAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var thresholds = options.Value.ExpiryAlertDays.Where(d => d > 0).Distinct().Order().ToList();
        if (thresholds.Count == 0)
        {
            return 0;
        }

        var horizon = now.AddDays(thresholds[^1]);
        var ending = await db.Licences.AsNoTracking().Include(l => l.Titles)
            .Where(l => l.EndsAt > now && l.EndsAt <= horizon)
            .ToListAsync(cancellationToken);
        var raised = 0;
        foreach (var licence in ending)
        {
            var left = licence.EndsAt - now;
            var tightest = thresholds.First(d => left <= TimeSpan.FromDays(d));
            var already = await db.ExpiryAlerts.AnyAsync(a => a.LicenceId == licence.Id && a.DaysAhead <= tightest, cancellationToken);
            if (already)
            {
                continue;
            }

            db.ExpiryAlerts.Add(new ExpiryAlert { LicenceId = licence.Id, DaysAhead = tightest, EndsAt = licence.EndsAt, RaisedAt = now });
            db.Publish(new LicenceExpiring(licence.Id, licence.Name, [.. licence.Titles.Select(t => t.TitleId)], licence.EndsAt, tightest));
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                raised++;
            }
            catch (DbUpdateException)
            {
                // Another worker raised it first (the key is licence and threshold).
                db.ChangeTracker.Clear();
            }
        }

        return raised;
    }

    public async Task<IReadOnlyList<AlertView>> ListAsync(int take, CancellationToken cancellationToken)
    {
        var alerts = await db.ExpiryAlerts.AsNoTracking().ToListAsync(cancellationToken);
        var names = await db.Licences.AsNoTracking().Where(l => alerts.Select(a => a.LicenceId).Contains(l.Id))
            .ToDictionaryAsync(l => l.Id, l => l.Name, cancellationToken);
        return [.. alerts.OrderByDescending(a => a.RaisedAt).ThenBy(a => a.DaysAhead).Take(Math.Clamp(take, 1, 500))
            .Select(a => new AlertView(a.LicenceId, names.GetValueOrDefault(a.LicenceId, "?"), a.DaysAhead, a.EndsAt, a.RaisedAt))];
    }
}

/// <summary>The worker's periodic expiry check.</summary>
internal sealed partial class ExpiryAlertWorker(IServiceScopeFactory scopes, IOptions<RightsOptions> options, TimeProvider time, ILogger<ExpiryAlertWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using (var scope = scopes.CreateAsyncScope())
                {
                    var raised = await scope.ServiceProvider.GetRequiredService<ExpiryAlerts>().CheckAsync(stoppingToken);
                    if (raised > 0)
                    {
                        Log.Raised(logger, raised);
                    }
                }

                await Task.Delay(options.Value.ExpiryCheckInterval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A failed check (database briefly unavailable) is retried.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.Failed(logger, ex);
                await Task.Delay(TimeSpan.FromMinutes(1), time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Raised {Count} licence expiry alert(s)")]
        public static partial void Raised(ILogger logger, int count);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Checking licence expiry failed; retrying")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
