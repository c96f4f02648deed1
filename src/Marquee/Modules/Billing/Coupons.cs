using System.ComponentModel.DataAnnotations;
using Marquee.Billing.Data;
using Marquee.Platform.Audit;
using Marquee.Platform.Events;
using Marquee.Platform.Web;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Billing;

/// <summary>
/// The body of <c>POST /api/billing/coupons</c>: percent off, or amounts off per currency (minor units); once, repeating
/// <c>periods</c> charges, or forever; limits, expiry, plans (empty: all), and promo codes that map to it.
/// </summary>
internal sealed record NewCoupon(
    [property: Required, RegularExpression("^[a-z0-9][a-z0-9-]{0,59}$")] string Code,
    [property: Required, StringLength(200, MinimumLength = 1)] string Name,
    [property: Range(0.01, 100)] decimal? PercentOff,
    Dictionary<string, long>? AmountsOff,
    [property: Required, RegularExpression("^(once|repeating|forever)$")] string Duration,
    [property: Range(1, 120)] int? Periods,
    [property: Range(1, 10_000_000)] int? MaxRedemptions,
    [property: Range(1, 1000)] int? MaxPerAccount,
    DateTimeOffset? ExpiresAt,
    List<string>? Plans,
    List<string>? PromoCodes) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var amounts = AmountsOff ?? [];
        if ((PercentOff is null) == (amounts.Count == 0))
        {
            yield return new ValidationResult("Give either percentOff or amountsOff.", [nameof(PercentOff)]);
        }

        if (amounts.Any(a => a.Value <= 0 || a.Key.Length != 3 || !a.Key.All(char.IsAsciiLetterUpper)))
        {
            yield return new ValidationResult("amountsOff: positive minor units per ISO 4217 currency (e.g. \"EUR\": 500).", [nameof(AmountsOff)]);
        }

        if ((Duration == "repeating") != (Periods is not null))
        {
            yield return new ValidationResult("periods is given with a repeating duration, and only then.", [nameof(Periods)]);
        }

        if ((PromoCodes ?? []).Any(p => p.Length is < 3 or > 40 || !p.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')))
        {
            yield return new ValidationResult("Promo codes are 3 to 40 letters, digits or dashes.", [nameof(PromoCodes)]);
        }
    }
}

internal sealed record CouponView(Guid Id, string Code, string Name, decimal? PercentOff, IReadOnlyDictionary<string, long> AmountsOff, string Duration, int? Periods,
    int? MaxRedemptions, int? MaxPerAccount, DateTimeOffset? ExpiresAt, IReadOnlyList<string> Plans, IReadOnlyList<string> PromoCodes, int Redeemed, bool Active)
{
    public static CouponView Of(Coupon c, IEnumerable<string> promoCodes) => new(c.Id, c.Code, c.Name, c.PercentOff, c.AmountsOff.ToDictionary(a => a.Currency, a => a.Amount),
        c.Duration.ToString().ToLowerInvariant(), c.Periods, c.MaxRedemptions, c.MaxPerAccount, c.ExpiresAt, Coupons.PlansOf(c), [.. promoCodes], c.Redeemed, c.Active);
}

/// <summary>A promo code's effect on a plan's price, net of tax, in minor units; <paramref name="Charges"/> discounted (null: every one).</summary>
internal sealed record PromoQuote(string PromoCode, string Coupon, string Currency, long Price, long Discounted, int? Charges);

/// <summary>Coupons and promo codes: creation, the checks at checkout, the discount of a charge.</summary>
internal sealed class Coupons(BillingDb db, TimeProvider time)
{
    public static IReadOnlyList<string> PlansOf(Coupon c) => [.. c.Plans.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>The discount on a net amount: percent rounded half away from zero, or the amount off in that currency; never more than the amount.</summary>
    public static long DiscountOf(Coupon c, long net, string currency)
    {
        var off = c.PercentOff is { } p
            ? (long)Math.Round(net * p / 100m, MidpointRounding.AwayFromZero)
            : c.AmountsOff.FirstOrDefault(a => a.Currency == currency)?.Amount ?? 0;
        return Math.Clamp(off, 0, net);
    }

    public static string Describe(Coupon c) => c.PercentOff is { } p ? $"{c.Name} ({p:0.##} % off)" : $"{c.Name}";

    /// <summary>Charges a new redemption discounts (null: forever).</summary>
    public static int? PeriodsOf(Coupon c) => c.Duration switch
    {
        CouponDuration.Once => 1,
        CouponDuration.Repeating => c.Periods ?? 1,
        _ => null,
    };

    public async Task<(CouponView? Coupon, string? Problem)> CreateAsync(NewCoupon input, RequestActor actor, CancellationToken cancellationToken)
    {
        if (await db.Coupons.AnyAsync(c => c.Code == input.Code, cancellationToken))
        {
            return (null, $"A coupon '{input.Code}' exists.");
        }

        var promos = (input.PromoCodes ?? []).Select(p => p.ToUpperInvariant()).Distinct().ToList();
        if (await db.PromoCodes.AnyAsync(p => promos.Contains(p.Code), cancellationToken))
        {
            return (null, "A promo code is taken.");
        }

        var now = time.GetUtcNow();
        var coupon = new Coupon
        {
            Id = Guid.NewGuid(), Code = input.Code, Name = input.Name, PercentOff = input.PercentOff,
            Duration = Enum.Parse<CouponDuration>(input.Duration, ignoreCase: true), Periods = input.Periods, MaxRedemptions = input.MaxRedemptions,
            MaxPerAccount = input.MaxPerAccount, ExpiresAt = input.ExpiresAt, Plans = string.Join(',', (input.Plans ?? []).Select(p => p.Trim()).Where(p => p.Length > 0)),
            CreatedAt = now,
        };
        coupon.AmountsOff.AddRange((input.AmountsOff ?? []).Select(a => new CouponAmount { CouponId = coupon.Id, Currency = a.Key, Amount = a.Value }));
        db.Coupons.Add(coupon);
        db.PromoCodes.AddRange(promos.Select(p => new PromoCode { Code = p, CouponId = coupon.Id, CreatedAt = now }));
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, "billing.coupon-created", $"coupon:{coupon.Code}", actor.From, string.Join(", ", promos)), now));
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            return (null, "The code or a promo code was taken meanwhile.");
        }

        return (CouponView.Of(coupon, promos), null);
    }

    public async Task<IReadOnlyList<CouponView>> ListAsync(CancellationToken cancellationToken)
    {
        var coupons = await db.Coupons.AsNoTracking().Include(c => c.AmountsOff).OrderByDescending(c => c.CreatedAt).Take(500).ToListAsync(cancellationToken);
        var ids = coupons.Select(c => c.Id).ToList();
        var promos = (await db.PromoCodes.AsNoTracking().Where(p => ids.Contains(p.CouponId)).ToListAsync(cancellationToken)).ToLookup(p => p.CouponId, p => p.Code);
        return [.. coupons.Select(c => CouponView.Of(c, promos[c.Id].Order(StringComparer.Ordinal)))];
    }

    /// <summary>
    /// The coupon a promo code gives this account for this plan and currency, or the problem that refuses it (unknown,
    /// expired, limit reached, another plan, no amount in that currency). Tracked: the caller counts the redemption.
    /// </summary>
    public async Task<(Coupon? Coupon, Answer? Problem)> ResolveAsync(string promoCode, Guid accountId, Plan plan, string currency, CancellationToken cancellationToken)
    {
        var code = promoCode.Trim().ToUpperInvariant();
        var promo = await db.PromoCodes.AsNoTracking().FirstOrDefaultAsync(p => p.Code == code, cancellationToken);
        var coupon = promo is null ? null : await db.Coupons.Include(c => c.AmountsOff).FirstOrDefaultAsync(c => c.Id == promo.CouponId, cancellationToken);
        if (coupon is null || !coupon.Active)
        {
            return (null, Answer.Problem(404, "Unknown promo code", $"There is no promo code '{code}'."));
        }

        if (coupon.ExpiresAt is { } expires && expires <= time.GetUtcNow())
        {
            return (null, Answer.Problem(422, "Promo code expired", $"The promo code '{code}' expired on {expires.UtcDateTime:yyyy-MM-dd}."));
        }

        if (coupon.MaxRedemptions is { } max && coupon.Redeemed >= max)
        {
            return (null, Answer.Problem(409, "Redemption limit reached", $"The promo code '{code}' has been redeemed as often as it may be."));
        }

        if (coupon.MaxPerAccount is { } perAccount && await db.CouponRedemptions.CountAsync(r => r.CouponId == coupon.Id && r.AccountId == accountId, cancellationToken) >= perAccount)
        {
            return (null, Answer.Problem(409, "Redemption limit reached", $"This account has already redeemed '{code}' as often as it may."));
        }

        if (PlansOf(coupon) is { Count: > 0 } plans && !plans.Contains(plan.Code))
        {
            return (null, Answer.Problem(422, "Not valid for this plan", $"The promo code '{code}' applies to {string.Join(", ", plans)}."));
        }

        if (coupon.PercentOff is null && coupon.AmountsOff.All(a => a.Currency != currency))
        {
            return (null, Answer.Problem(422, "Not valid in this currency", $"The promo code '{code}' takes amounts off in {string.Join(", ", coupon.AmountsOff.Select(a => a.Currency))}."));
        }

        return (coupon, null);
    }

    /// <summary>
    /// What a promo code takes off a plan's price for this account before it pays (the checkout page's "Apply"): the price
    /// net of tax before and after the discount, and how many charges it discounts (null: every one); or the problem that
    /// refuses it, as checkout would. Reads only.
    /// </summary>
    public async Task<(PromoQuote? Quote, string? Problem)> QuoteAsync(string promoCode, Guid accountId, string planCode, string currency, CancellationToken cancellationToken)
    {
        var plan = await db.Plans.AsNoTracking().Include(p => p.Prices).FirstOrDefaultAsync(p => p.Code == planCode && p.Active, cancellationToken);
        if (plan?.Prices.FirstOrDefault(p => p.Currency == currency) is not { } price)
        {
            return (null, "This plan is not on sale in that currency.");
        }

        var (coupon, refused) = await ResolveAsync(promoCode, accountId, plan, currency, cancellationToken);
        if (coupon is null)
        {
            return (null, (refused?.Body as Microsoft.AspNetCore.Mvc.ProblemDetails)?.Detail ?? "This promo code cannot be used.");
        }

        return (new PromoQuote(promoCode.Trim().ToUpperInvariant(), Describe(coupon), currency, price.Amount, price.Amount - DiscountOf(coupon, price.Amount, currency), PeriodsOf(coupon)), null);
    }

    /// <summary>Counts a redemption (the coupon's counter is a concurrency token: a race for the last one fails to save and runs again).</summary>
    public void Redeem(Coupon coupon, Guid accountId, Guid? subscriptionId, Guid? invoiceId, string promoCode)
    {
        coupon.Redeemed++;
        db.CouponRedemptions.Add(new CouponRedemption
        {
            Id = Guid.NewGuid(), CouponId = coupon.Id, AccountId = accountId, SubscriptionId = subscriptionId, InvoiceId = invoiceId,
            PromoCode = promoCode.Trim().ToUpperInvariant(), At = time.GetUtcNow(),
        });
    }
}
