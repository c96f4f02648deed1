using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Marquee.Billing.Contracts;
using Marquee.Billing.Data;
using Marquee.Platform.Audit;
using Marquee.Platform.Web;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Billing;

/// <summary>
/// The body of <c>POST /api/billing/plans</c>: prices per currency in minor units (net of tax). <see cref="WithAds"/>: the plan
/// plays with ads (AVOD); only such a plan may cost 0 in a currency (free with ads), and a free plan has no trial.
/// </summary>
internal sealed partial record NewPlan(
    [property: Required, StringLength(60, MinimumLength = 1)] string Code,
    [property: Required, StringLength(200, MinimumLength = 1)] string Name,
    [property: Required] BillingPeriod? Period,
    [property: Required, MinLength(1), MaxLength(20)] Dictionary<string, long> Prices,
    [property: Range(0, 365)] int TrialDays = 0,
    [property: Range(144, 4320)] int MaxHeight = 1080,
    [property: Range(1, 10)] int Streams = 1,
    bool WithAds = false) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!CodePattern().IsMatch(Code ?? ""))
        {
            yield return new ValidationResult("The code is lower-case letters, digits and dashes.", [nameof(Code)]);
        }

        foreach (var (currency, amount) in Prices ?? [])
        {
            if (!CurrencyPattern().IsMatch(currency.ToUpperInvariant()))
            {
                yield return new ValidationResult($"'{currency}' is not an ISO 4217 currency code (three capital letters).", [nameof(Prices)]);
            }

            if (amount == 0 && !WithAds)
            {
                yield return new ValidationResult($"The {currency} price is 0: only a plan with ads (withAds: true) may be free.", [nameof(Prices)]);
            }
            else if (amount is < 0 or > 100_000_000)
            {
                yield return new ValidationResult($"The {currency} price must be from {(WithAds ? 0 : 1)} to 100000000 minor units.", [nameof(Prices)]);
            }
        }

        if (TrialDays > 0 && (Prices ?? []).Values.Any(a => a == 0))
        {
            yield return new ValidationResult("A free plan has no trial: set trialDays to 0.", [nameof(TrialDays)]);
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,59}$")]
    private static partial Regex CodePattern();

    [GeneratedRegex("^[A-Z]{3}$")]
    internal static partial Regex CurrencyPattern();
}

/// <param name="WithAds">The plan plays with ads (AVOD); with a price of 0 it is free with ads.</param>
internal sealed record PlanView(Guid Id, string Code, string Name, BillingPeriod Period, IReadOnlyDictionary<string, long> Prices, int TrialDays, int MaxHeight, int Streams, bool Active, bool WithAds)
{
    public static PlanView Of(Plan p) => new(p.Id, p.Code, p.Name, p.Period, p.Prices.OrderBy(x => x.Currency, StringComparer.Ordinal).ToDictionary(x => x.Currency, x => x.Amount), p.TrialDays, p.MaxHeight, p.Streams, p.Active, p.WithAds);

    /// <summary>Free with ads: costs nothing in any currency.</summary>
    public bool Free => Prices.Count > 0 && Prices.Values.All(a => a == 0);
}

/// <summary>The body of <c>PUT /api/billing/titles/{id}/offer</c>: free (freemium), rental and purchase prices (TVOD).</summary>
internal sealed record TitleOfferInput(bool Free, [property: Required, RegularExpression("^[A-Z]{3}$")] string Currency, [property: Range(1, 100_000_000)] long? RentalPrice, [property: Range(1, 100_000_000)] long? PurchasePrice);

internal sealed record TitleOfferView(Guid TitleId, bool Free, string Currency, long? RentalPrice, long? PurchasePrice);

/// <summary>Plans and per-title offers (finance operators).</summary>
internal sealed class Offers(BillingDb db, TimeProvider time)
{
    public async Task<IReadOnlyList<PlanView>> PlansAsync(bool activeOnly, CancellationToken cancellationToken) =>
        [.. (await db.Plans.AsNoTracking().Include(p => p.Prices).Where(p => !activeOnly || p.Active).ToListAsync(cancellationToken))
            .OrderBy(p => p.Period).ThenBy(p => p.Prices.Select(x => x.Amount).DefaultIfEmpty().Min()).Select(PlanView.Of)];

    public async Task<PlanView?> FindAsync(string code, CancellationToken cancellationToken) =>
        await db.Plans.AsNoTracking().Include(p => p.Prices).FirstOrDefaultAsync(p => p.Code == code, cancellationToken) is { } p ? PlanView.Of(p) : null;

    /// <summary>Null when the code is taken.</summary>
    public async Task<PlanView?> CreateAsync(NewPlan input, RequestActor actor, CancellationToken cancellationToken)
    {
        if (await db.Plans.AnyAsync(p => p.Code == input.Code, cancellationToken))
        {
            return null;
        }

        var plan = new Plan
        {
            Id = Guid.NewGuid(), Code = input.Code, Name = input.Name.Trim(), Period = input.Period!.Value, TrialDays = input.TrialDays,
            MaxHeight = input.MaxHeight, Streams = input.Streams, WithAds = input.WithAds, CreatedAt = time.GetUtcNow(),
        };
        plan.Prices = [.. input.Prices.Select(kv => new PlanPrice { PlanId = plan.Id, Currency = kv.Key.ToUpperInvariant(), Amount = kv.Value })];
        db.Plans.Add(plan);
        Audit(actor, "billing.plan-created", $"plan:{plan.Code}", $"{plan.Name}, {plan.Period}, {string.Join(", ", plan.Prices.Select(x => $"{x.Amount} {x.Currency}"))}{(plan.WithAds ? ", with ads" : "")}");
        await db.SaveChangesAsync(cancellationToken);
        return PlanView.Of(plan);
    }

    /// <summary>Retires a plan: no new checkouts; subscribers keep it. False when unknown.</summary>
    public async Task<bool> RetireAsync(string code, RequestActor actor, CancellationToken cancellationToken)
    {
        var plan = await db.Plans.FirstOrDefaultAsync(p => p.Code == code, cancellationToken);
        if (plan is null)
        {
            return false;
        }

        plan.Active = false;
        Audit(actor, "billing.plan-retired", $"plan:{plan.Code}", null);
        await db.SaveChangesAsync(cancellationToken);
        return true;
    }

    public async Task<TitleOfferView> SetOfferAsync(Guid titleId, TitleOfferInput input, RequestActor actor, CancellationToken cancellationToken)
    {
        var offer = await db.TitleOffers.FirstOrDefaultAsync(o => o.TitleId == titleId, cancellationToken);
        if (offer is null)
        {
            offer = new TitleOffer { TitleId = titleId };
            db.TitleOffers.Add(offer);
        }

        offer.Free = input.Free;
        offer.Currency = input.Currency;
        offer.RentalPrice = input.RentalPrice;
        offer.PurchasePrice = input.PurchasePrice;
        Audit(actor, "billing.title-offer-set", $"title:{titleId}", $"free {input.Free}, rental {input.RentalPrice}, purchase {input.PurchasePrice} {input.Currency}");
        await db.SaveChangesAsync(cancellationToken);
        return View(offer);
    }

    public async Task<TitleOfferView?> OfferAsync(Guid titleId, CancellationToken cancellationToken) =>
        await db.TitleOffers.AsNoTracking().FirstOrDefaultAsync(o => o.TitleId == titleId, cancellationToken) is { } o ? View(o) : null;

    private void Audit(RequestActor actor, string action, string target, string? details) =>
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, action, target, actor.From, details), time.GetUtcNow()));

    private static TitleOfferView View(TitleOffer o) => new(o.TitleId, o.Free, o.Currency, o.RentalPrice, o.PurchasePrice);
}

/// <summary>The plan limits of an account, for other modules (<see cref="IPlanLimits"/>).</summary>
internal sealed class PlanLimitsReader(BillingDb db, TimeProvider time) : IPlanLimits
{
    public async Task<PlanLimits?> ForAccountAsync(Guid accountId, CancellationToken cancellationToken)
    {
        var sub = await db.Subscriptions.AsNoTracking().FirstOrDefaultAsync(s => s.AccountId == accountId && s.Open, cancellationToken);
        if (sub is null || !Entitlements.Plays(sub, time.GetUtcNow()))
        {
            return null;
        }

        var plan = await db.Plans.AsNoTracking().FirstAsync(p => p.Id == sub.PlanId, cancellationToken);
        return new PlanLimits(plan.Code, plan.MaxHeight, plan.Streams);
    }
}
