using Marquee.Delivery.Contracts;
using Marquee.Delivery.Data;
using Marquee.Media.Contracts;
using Marquee.Platform.Audit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Delivery;

/// <summary>A session as the player gets it: where to fetch the manifest and where to send heartbeats.</summary>
/// <param name="ResumeAt">Where this viewer left the title last time (seconds), when not near its end.</param>
/// <param name="HasThumbnails">The package has a WebVTT thumbnail track beside its master playlist.</param>
/// <param name="WithAds">A policy said the session plays with ads (a plan with ads); no ad server exists yet, so none are inserted.</param>
internal sealed record SessionGrant(Guid SessionId, string Token, DateTimeOffset ExpiresAt, int? MaxHeight, double? ResumeAt = null, bool HasThumbnails = false, bool WithAds = false);

internal abstract record StartOutcome
{
    public sealed record Started(SessionGrant Grant) : StartOutcome;

    public sealed record Refused(string Reason) : StartOutcome;

    public sealed record NoPackage : StartOutcome;
}

/// <summary>A live session found by its token, with the package it plays.</summary>
internal sealed record LiveSession(Guid Id, Guid AssetId, string PackageRoot, string MasterPlaylist, int? MaxHeight)
{
    public Guid AccountId { get; init; }

    public Guid TitleId { get; init; }

    public ClientPlatform Platform { get; init; }
}

/// <summary>Playback sessions: started after every policy allows, kept alive by heartbeats, ended by the viewer, an operator or silence.</summary>
internal sealed class Sessions(
    DeliveryDb db,
    PlaybackPolicies policies,
    PlaybackTokens tokens,
    PackageLayouts layouts,
    LiveSessions live,
    IServiceProvider services,
    IOptions<DeliveryOptions> options,
    TimeProvider time) : IPlaybackSessions
{
    public const string Stopped = "stopped";
    public const string TimedOut = "heartbeat-timeout";
    public const string Revoked = "revoked";

    /// <param name="ttl">For an operator URL: both the heartbeat timeout and the token lifetime; otherwise the configured ones.</param>
    public async Task<StartOutcome> StartAsync(Viewer viewer, Guid titleId, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        // The viewer's country comes from the current HTTP request (none for the command line's operator URL).
        var country = services.GetService<Marquee.Platform.Web.IClientCountry>()?.Current();
        var request = new PlaybackRequest(viewer.AccountId, viewer.ProfileId, titleId, country, viewer.Platform, DeviceId: null, viewer.SignedIn);
        var decision = await policies.EvaluateAsync(request, cancellationToken);
        if (!decision.Allowed)
        {
            return new StartOutcome.Refused(decision.Reason ?? "Playback is not allowed.");
        }

        // Media may not be part of this build yet: then no title is playable.
        var media = services.GetService<IMediaPackages>();
        var package = media is null ? null : await media.FindPlayableAsync(titleId, cancellationToken);
        if (package is null)
        {
            return new StartOutcome.NoPackage();
        }

        // A limit no video variant meets would give the player an empty master playlist: refuse plainly instead.
        if (decision.MaxHeight is { } max && File.Exists(Path.Combine(package.Root, package.MasterPlaylist))
            && layouts.For(package.Root, package.MasterPlaylist).Variants is { } variants
            && variants.Any(v => v.Height is not null) && !variants.Any(v => v.Height is null || v.Height <= max))
        {
            return new StartOutcome.Refused($"This title has no rendition at or below {max}p, the most this viewer may play.");
        }

        var lastPosition = await db.Sessions.AsNoTracking()
            .Where(s => s.AccountId == viewer.AccountId && s.ProfileId == viewer.ProfileId && s.TitleId == titleId && s.PositionSeconds != null)
            .OrderByDescending(s => s.LastHeartbeatAt)
            .Select(s => s.PositionSeconds)
            .FirstOrDefaultAsync(cancellationToken);
        // Watched to 95% or more counts as finished: start from the beginning.
        var resumeAt = lastPosition is { } p && p > 0 && (package.Duration <= TimeSpan.Zero || p < package.Duration.TotalSeconds * 0.95) ? lastPosition : null;

        var now = time.GetUtcNow();
        var timeout = ttl ?? options.Value.HeartbeatTimeout;
        var session = new PlaybackSession
        {
            Id = Guid.CreateVersion7(now),
            AccountId = viewer.AccountId,
            ProfileId = viewer.ProfileId,
            TitleId = titleId,
            AssetId = package.AssetId,
            PackageRoot = package.Root,
            MasterPlaylist = package.MasterPlaylist,
            Platform = viewer.Platform,
            MaxHeight = decision.MaxHeight,
            WithAds = decision.WithAds,
            CreatedAt = now,
            LastHeartbeatAt = now,
            HeartbeatTimeoutSeconds = (int)Math.Ceiling(timeout.TotalSeconds),
            IdleDeadline = now + timeout,
        };
        db.Sessions.Add(session);
        db.Publish(new PlaybackStarted(session.Id, session.AccountId, session.ProfileId, titleId, package.AssetId, session.Platform, session.MaxHeight, session.WithAds, now));
        await db.SaveChangesAsync(cancellationToken);
        var expires = TokenExpiry(now, ttl ?? options.Value.TokenLifetime);
        return new StartOutcome.Started(new SessionGrant(session.Id, tokens.Issue(session.Id, expires), expires, session.MaxHeight, resumeAt, package.HasThumbnails, session.WithAds));
    }

    /// <summary>The viewer's session, ended first if its heartbeat timed out; null when it is not theirs or does not exist.</summary>
    public async Task<PlaybackSession?> FindAsync(Guid id, Viewer? owner, CancellationToken cancellationToken)
    {
        var session = await db.Sessions.FirstOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (session is null || (owner is not null && (!owner.SignedIn || session.AccountId != owner.AccountId)))
        {
            return null;
        }

        await EndIfSilentAsync(session, cancellationToken);
        return session;
    }

    /// <summary>Keeps a live session alive and issues a renewed token.</summary>
    public async Task<SessionGrant> HeartbeatAsync(PlaybackSession session, double? positionSeconds, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        session.LastHeartbeatAt = now;
        session.IdleDeadline = now + TimeSpan.FromSeconds(session.HeartbeatTimeoutSeconds);
        session.PositionSeconds = positionSeconds ?? session.PositionSeconds;
        await db.SaveChangesAsync(cancellationToken);
        live.Changed(session.Id);
        var expires = TokenExpiry(now, options.Value.TokenLifetime);
        var thumbnails = File.Exists(Path.Combine(Path.GetDirectoryName(Path.Combine(session.PackageRoot, session.MasterPlaylist))!, PackagedTitle.ThumbnailTrack));
        return new SessionGrant(session.Id, tokens.Issue(session.Id, expires), expires, session.MaxHeight, HasThumbnails: thumbnails, WithAds: session.WithAds);
    }

    /// <param name="audit">When an operator ends it: the audit line, committed with the change.</param>
    public async Task EndAsync(PlaybackSession session, string reason, double? positionSeconds, CancellationToken cancellationToken, AuditRecord? audit = null)
    {
        if (session.EndedAt is not null)
        {
            return;
        }

        var now = time.GetUtcNow();
        session.PositionSeconds = positionSeconds ?? session.PositionSeconds;
        End(session, reason, now);
        if (audit is not null)
        {
            db.Publish(new AuditRequested(audit, now));
        }

        await db.SaveChangesAsync(cancellationToken);
        live.Ended(session.Id);
    }

    /// <summary>
    /// The session as its row says now, if it is live (ended first if its heartbeat timed out), with its idle deadline;
    /// null otherwise. Token checks and the in-memory copy are <see cref="LiveSessions"/>'s.
    /// </summary>
    public async Task<(LiveSession Session, DateTimeOffset IdleDeadline)?> FindLiveAsync(Guid id, CancellationToken cancellationToken)
    {
        var session = await db.Sessions.FirstOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (session is null)
        {
            return null;
        }

        if (await EndIfSilentAsync(session, cancellationToken) || session.EndedAt is not null)
        {
            live.Ended(id);
            return null;
        }

        return (new LiveSession(session.Id, session.AssetId, session.PackageRoot, session.MasterPlaylist, session.MaxHeight)
        {
            AccountId = session.AccountId, TitleId = session.TitleId, Platform = session.Platform,
        }, session.IdleDeadline);
    }

    public async Task<byte[]?> ContentKeyAsync(Guid assetId, CancellationToken cancellationToken) =>
        services.GetService<IMediaPackages>() is { } media ? await media.GetContentKeyAsync(assetId, cancellationToken) : null;

    public async Task<int> CountLiveAsync(Guid accountId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return await db.Sessions.CountAsync(s => s.AccountId == accountId && s.EndedAt == null && s.IdleDeadline >= now, cancellationToken);
    }

    /// <summary>Sessions of every account that are live now (for the console overview).</summary>
    public async Task<int> CountAllLiveAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return await db.Sessions.CountAsync(s => s.EndedAt == null && s.IdleDeadline >= now, cancellationToken);
    }

    /// <summary>Ends every session whose heartbeat timed out (at most <paramref name="batch"/>); returns how many.</summary>
    public async Task<int> EndSilentAsync(int batch, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var silent = await db.Sessions.Where(s => s.EndedAt == null && s.IdleDeadline < now).OrderBy(s => s.IdleDeadline).Take(batch).ToListAsync(cancellationToken);
        foreach (var session in silent)
        {
            End(session, TimedOut, now);
        }

        await db.SaveChangesAsync(cancellationToken);
        foreach (var session in silent)
        {
            live.Ended(session.Id);
        }

        return silent.Count;
    }

    /// <summary>Tokens carry whole seconds: round up, so that a token never expires before the time it was promised.</summary>
    private static DateTimeOffset TokenExpiry(DateTimeOffset now, TimeSpan lifetime)
    {
        var exact = now + lifetime;
        var seconds = exact.ToUnixTimeSeconds();
        return DateTimeOffset.FromUnixTimeSeconds(exact > DateTimeOffset.FromUnixTimeSeconds(seconds) ? seconds + 1 : seconds);
    }

    private async Task<bool> EndIfSilentAsync(PlaybackSession session, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (session.EndedAt is not null || session.IdleDeadline >= now)
        {
            return false;
        }

        End(session, TimedOut, now);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Ended at the same moment by another request or the sweeper: it is ended either way.
        }

        return true;
    }

    private void End(PlaybackSession session, string reason, DateTimeOffset now)
    {
        session.EndedAt = now;
        session.EndReason = reason;
        db.Publish(new PlaybackEnded(session.Id, session.AccountId, session.TitleId, reason, session.PositionSeconds, now));
    }
}

/// <summary>Delivery's figure on the console overview: live playback sessions.</summary>
internal sealed class DeliveryFigures(Sessions sessions) : Platform.Web.IConsoleFigures
{
    public async Task<IReadOnlyList<Platform.Web.ConsoleFigure>> ReadAsync(CancellationToken cancellationToken) =>
        [new("Delivery", "Live playback sessions", await sessions.CountAllLiveAsync(cancellationToken))];
}

/// <summary>Ends sessions whose heartbeat timed out, so that they stop counting as live even if nobody asks for them again.</summary>
internal sealed class SilentSessionSweeper(IServiceScopeFactory scopes, IOptions<DeliveryOptions> options, TimeProvider time, ILogger<SilentSessionSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromTicks(Math.Clamp(options.Value.HeartbeatTimeout.Ticks / 3, TimeSpan.FromSeconds(1).Ticks, TimeSpan.FromSeconds(30).Ticks));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, stoppingToken);
                await using var scope = scopes.CreateAsyncScope();
                var ended = await scope.ServiceProvider.GetRequiredService<Sessions>().EndSilentAsync(500, stoppingToken);
                if (ended > 0)
                {
                    logger.LogInformation("Ended {Count} playback session(s) with no heartbeat", ended);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A failed sweep (database briefly unavailable) is retried at the next tick.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                logger.LogWarning(ex, "Sweeping silent playback sessions failed; retrying");
            }
        }
    }
}
