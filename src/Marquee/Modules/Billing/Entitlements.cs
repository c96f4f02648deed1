using Marquee.Billing.Data;
using Marquee.Delivery.Contracts;
using Marquee.Rights.Contracts;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Billing;

/// <summary>
/// Entitlements at playback: may this account play this title now — a free title, a purchase, a rental (30 days to
/// start, 48 hours from its first play, which this starts), or a subscription that plays (trialing, active, past due in
/// its grace) — at the plan's maximum height and within its concurrent streams, with ads when the plan is one with ads
/// (AVOD; free titles, purchases and rentals play without). Each way plays only under a service model that the title's
/// licence in force grants this viewer (Rights' <see cref="ITitleServiceModels"/>): a paid plan under SVOD (or with ads
/// under AVOD alone), a free plan with ads or a free title under AVOD, a rental or purchase under TVOD. Read from the
/// database on every request, so payments, refunds, expiry and cancellation take effect at once.
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

        // The service models the title's licences grant this viewer now (Rights); every model when Rights is absent.
        var models = services.GetService<ITitleServiceModels>() is { } rights
            ? await rights.GrantedAsync(request.TitleId, request.Country, request.Platform, cancellationToken)
            : ServiceModels.All;
        if (models == ServiceModels.None)
        {
            return PlaybackDecision.Allow(); // no licence in force: the licence policy refuses, with its own reason
        }

        var offer = await db.TitleOffers.AsNoTracking().FirstOrDefaultAsync(o => o.TitleId == request.TitleId, cancellationToken);
        if (offer is { Free: true } && models.HasFlag(ServiceModels.Avod))
        {
            return PlaybackDecision.Allow(); // a free title is shown without payment: the licence must allow advertising-funded (free) showing
        }

        if (!request.SignedIn)
        {
            return PlaybackDecision.Refuse(NeedsEntitlement);
        }

        var now = time.GetUtcNow();
        var transactional = models.HasFlag(ServiceModels.Tvod);
        var blocked = false; // the viewer holds something that would play, but not under a model licensed here
        var grants = await db.TitleGrants.Where(g => g.AccountId == request.AccountId && g.TitleId == request.TitleId && !g.Revoked).ToListAsync(cancellationToken);
        if (grants.Any(g => g.Kind == GrantKind.Purchase))
        {
            if (transactional)
            {
                return PlaybackDecision.Allow();
            }

            blocked = true;
        }

        var rentalHours = TimeSpan.FromHours(options.Value.RentalHours);
        var started = grants.FirstOrDefault(g => g.Kind == GrantKind.Rental && g.FirstPlayedAt is { } first && now < first + rentalHours);
        if (started is not null)
        {
            if (transactional)
            {
                return PlaybackDecision.Allow();
            }

            blocked = true;
        }

        var unstarted = grants.FirstOrDefault(g => g.Kind == GrantKind.Rental && g.FirstPlayedAt is null && now < g.GrantedAt.AddDays(options.Value.RentalDaysToStart));
        if (unstarted is not null && !transactional)
        {
            unstarted = null; // not started here: its 30 days to start keep running
            blocked = true;
        }

        var sub = await db.Subscriptions.AsNoTracking().FirstOrDefaultAsync(s => s.AccountId == request.AccountId && s.Open, cancellationToken);
        var plan = sub is not null && Plays(sub, now) ? await db.Plans.AsNoTracking().FirstAsync(p => p.Id == sub.PlanId, cancellationToken) : null;
        // A paid plan is a subscription (SVOD): it plays under an SVOD grant (with ads when the plan has them), or with ads
        // under an AVOD-only grant. A free plan with ads is advertising-funded (AVOD): it needs an AVOD grant.
        var freePlan = plan is { WithAds: true }
            && await db.PlanPrices.AnyAsync(p => p.PlanId == plan.Id && p.Currency == sub!.Currency && p.Amount == 0, cancellationToken);
        var planAds = plan is null ? (bool?)null
            : models.HasFlag(ServiceModels.Svod) && !freePlan ? plan.WithAds
            : models.HasFlag(ServiceModels.Avod) ? true : null;
        blocked |= plan is not null && planAds is null;
        if (planAds is { } withAds && !(withAds && unstarted is not null)) // a rental paid for plays without ads, even on a plan with ads
        {
            if (services.GetService<IPlaybackSessions>() is { } sessions && await sessions.CountLiveAsync(request.AccountId, cancellationToken) >= plan!.Streams)
            {
                return PlaybackDecision.Refuse(plan.Streams == 1
                    ? "Your plan plays on one screen at a time. Stop the other stream first."
                    : $"Your plan plays on {plan.Streams} screens at a time. Stop another stream first.");
            }

            return new PlaybackDecision(true, null, plan!.MaxHeight, withAds);
        }

        if (unstarted is not null)
        {
            unstarted.FirstPlayedAt = now; // the rental's 48 hours start at its first play
            await db.SaveChangesAsync(cancellationToken);
            return PlaybackDecision.Allow();
        }

        if (blocked || (offer is { Free: true } && !models.HasFlag(ServiceModels.Avod)))
        {
            return PlaybackDecision.Refuse(OfferedOnly(models));
        }

        return grants.Any(g => g.Kind == GrantKind.Rental)
            ? PlaybackDecision.Refuse("Your rental of this title has ended.")
            : PlaybackDecision.Refuse(NeedsEntitlement);
    }

    /// <summary>The refusal when what the viewer holds is not a model the licence grants here: it names the ways that are.</summary>
    internal static string OfferedOnly(ServiceModels models)
    {
        var ways = new List<string>();
        if (models.HasFlag(ServiceModels.Svod))
        {
            ways.Add("with a subscription");
        }

        if (models.HasFlag(ServiceModels.Avod))
        {
            ways.Add("free with ads");
        }

        if (models.HasFlag(ServiceModels.Tvod))
        {
            ways.Add("to rent or buy");
        }

        return $"Here this title is only available {string.Join(" or ", ways)}.";
    }
}
