using Marquee.Billing.Data;
using Marquee.Delivery.Contracts;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Billing;

/// <summary>
/// Entitlements at playback: may this account play this title now — a free title, a purchase, a rental (30 days to
/// start, 48 hours from its first play, which this starts), or a subscription that plays (trialing, active, past due in
/// its grace) — at the plan's maximum height and within its concurrent streams, with ads when the plan is one with ads
/// (AVOD; free titles, purchases and rentals play without). Read from the database on every request, so payments,
/// refunds, expiry and cancellation take effect at once.
/// </summary>
internal sealed class Entitlements(BillingDb db, IOptions<BillingOptions> options, TimeProvider time, IServiceProvider services) : IPlaybackPolicy
{
    public const string NeedsEntitlement = "This title needs a subscription, a rental or a purchase.";

    public static bool Plays(Subscription s, DateTimeOffset now) =>
        s.Open && Checkouts.Playing.Contains(s.Status) && !(s.CancelAtPeriodEnd && now >= s.CurrentPeriodEnd);

    public async Task<PlaybackDecision> EvaluateAsync(PlaybackRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!options.Value.RequireEntitlement || request.Platform == ClientPlatform.Other)
        {
            return PlaybackDecision.Allow();
        }

        var offer = await db.TitleOffers.AsNoTracking().FirstOrDefaultAsync(o => o.TitleId == request.TitleId, cancellationToken);
        if (offer is { Free: true })
        {
            return PlaybackDecision.Allow();
        }

        if (!request.SignedIn)
        {
            return PlaybackDecision.Refuse(NeedsEntitlement);
        }

        var now = time.GetUtcNow();
        var grants = await db.TitleGrants.Where(g => g.AccountId == request.AccountId && g.TitleId == request.TitleId && !g.Revoked).ToListAsync(cancellationToken);
        if (grants.Any(g => g.Kind == GrantKind.Purchase))
        {
            return PlaybackDecision.Allow();
        }

        var rentalHours = TimeSpan.FromHours(options.Value.RentalHours);
        var started = grants.FirstOrDefault(g => g.Kind == GrantKind.Rental && g.FirstPlayedAt is { } first && now < first + rentalHours);
        if (started is not null)
        {
            return PlaybackDecision.Allow();
        }

        var unstarted = grants.FirstOrDefault(g => g.Kind == GrantKind.Rental && g.FirstPlayedAt is null && now < g.GrantedAt.AddDays(options.Value.RentalDaysToStart));
        var sub = await db.Subscriptions.AsNoTracking().FirstOrDefaultAsync(s => s.AccountId == request.AccountId && s.Open, cancellationToken);
        var plan = sub is not null && Plays(sub, now) ? await db.Plans.AsNoTracking().FirstAsync(p => p.Id == sub.PlanId, cancellationToken) : null;
        if (plan is not null && !(plan.WithAds && unstarted is not null)) // a rental paid for plays without ads, even on a plan with ads
        {
            if (services.GetService<IPlaybackSessions>() is { } sessions && await sessions.CountLiveAsync(request.AccountId, cancellationToken) >= plan.Streams)
            {
                return PlaybackDecision.Refuse(plan.Streams == 1
                    ? "Your plan plays on one screen at a time. Stop the other stream first."
                    : $"Your plan plays on {plan.Streams} screens at a time. Stop another stream first.");
            }

            return new PlaybackDecision(true, null, plan.MaxHeight, plan.WithAds);
        }

        if (unstarted is not null)
        {
            unstarted.FirstPlayedAt = now; // the rental's 48 hours start at its first play
            await db.SaveChangesAsync(cancellationToken);
            return PlaybackDecision.Allow();
        }

        return grants.Any(g => g.Kind == GrantKind.Rental)
            ? PlaybackDecision.Refuse("Your rental of this title has ended.")
            : PlaybackDecision.Refuse(NeedsEntitlement);
    }
}
