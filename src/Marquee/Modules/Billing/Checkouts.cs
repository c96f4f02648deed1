using System.ComponentModel.DataAnnotations;
using Marquee.Billing.Contracts;
using Marquee.Billing.Data;
using Marquee.Platform.Audit;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Billing;

/// <summary>
/// The body of <c>POST /api/billing/checkout</c>: a plan, a currency it is priced in, a card (none for a plan that is free
/// with ads in that currency) and the billing country.
/// </summary>
internal sealed record CheckoutInput(
    [property: Required, StringLength(60)] string Plan,
    [property: Required, RegularExpression("^[A-Z]{3}$")] string Currency,
    [property: StringLength(30)] string? Card,
    [property: Required, RegularExpression("^[A-Z]{2}$")] string Country,
    [property: StringLength(40)] string? PromoCode = null);

/// <summary>The body of a rental or purchase.</summary>
internal sealed record TitlePurchaseInput(
    [property: Required, StringLength(30)] string Card,
    [property: Required, RegularExpression("^[A-Z]{2}$")] string Country);

internal sealed record PlanChangeInput([property: Required, StringLength(60)] string Plan);

internal sealed record CardInput([property: Required, StringLength(30)] string Card);

/// <summary>An answer to a money-moving request, stored with its idempotency key. <see cref="Compensate"/>: a charge to refund if the effect cannot be saved.</summary>
internal sealed record Answer(int Status, object Body, string? Location = null)
{
    public string? Compensate { get; init; }

    public static Answer Problem(int status, string title, string? detail = null) =>
        new(status, new ProblemDetails { Status = status, Title = title, Detail = detail });
}

/// <param name="WithAds">The plan plays with ads (AVOD).</param>
internal sealed record SubscriptionView(Guid Id, string Plan, string PlanName, string Status, string Currency, DateTimeOffset CurrentPeriodStart, DateTimeOffset CurrentPeriodEnd,
    bool CancelAtPeriodEnd, string? NextPlan, int MaxHeight, int Streams, bool WithAds);

internal sealed record PaymentView(Guid PaymentId, string Status, long Amount, string Currency, Guid InvoiceId, string InvoiceNumber, string? Redirect, string? Failure, SubscriptionView? Subscription);

internal sealed record InvoiceView(Guid Id, string Number, string Kind, string Status, string Purpose, string Currency, long Net, long Tax, long Total, decimal TaxRate, string Country,
    DateTimeOffset IssuedAt, DateTimeOffset? PeriodStart, DateTimeOffset? PeriodEnd, IReadOnlyList<InvoiceLineView> Lines, long Discount)
{
    public static InvoiceView Of(Invoice i) => new(i.Id, i.Number, i.Kind.ToString(), i.Status.ToString(), i.Purpose, i.Currency, i.Net, i.Tax, i.Total, i.TaxRate, i.Country,
        i.IssuedAt, i.PeriodStart, i.PeriodEnd, [.. i.Lines.OrderBy(l => l.Position).Select(l => new InvoiceLineView(l.Description, l.Amount, l.IsTax))], i.Discount);
}

/// <summary>The answer to a refund the gateway has not finished (202): the invoice stays paid until it has.</summary>
internal sealed record RefundPendingView(Guid InvoiceId, string InvoiceNumber, Guid PaymentId, string Status, long Amount, string Currency);

internal sealed record InvoiceLineView(string Description, long Amount, bool Tax);

/// <summary>
/// Checkout, rentals and purchases, plan changes, card updates, cancellation, refunds, and what settles a payment
/// (<see cref="FulfilAsync"/>), shared by the direct answer, the 3-D Secure return, webhooks and the scheduler. Methods
/// that return an <see cref="Answer"/> add to the context and do not save: the caller saves with the idempotency record.
/// </summary>
internal sealed class Checkouts(BillingDb db, Books books, IPaymentGateway gateway, FraudCheck fraud, Coupons coupons, TvodLicensing licensing, TimeProvider time)
{
    public static readonly SubscriptionStatus[] Playing = [SubscriptionStatus.Trialing, SubscriptionStatus.Active, SubscriptionStatus.PastDue];

    public static DateTimeOffset PeriodStart(Subscription s, Plan plan, int index) =>
        s.Anchor.AddMonths(index * (plan.Period == BillingPeriod.Yearly ? 12 : 1));

    public async Task<Answer> CheckoutAsync(Guid accountId, string email, CheckoutInput input, string key, CancellationToken cancellationToken)
    {
        var plan = await db.Plans.Include(p => p.Prices).FirstOrDefaultAsync(p => p.Code == input.Plan && p.Active, cancellationToken);
        if (plan is null)
        {
            return Answer.Problem(404, "No such plan", $"There is no plan '{input.Plan}' on sale.");
        }

        var price = plan.Prices.FirstOrDefault(p => p.Currency == input.Currency);
        if (price is null)
        {
            return Answer.Problem(400, "Currency not offered", $"The plan is priced in {string.Join(", ", plan.Prices.Select(p => p.Currency))}.");
        }

        var open = await db.Subscriptions.FirstOrDefaultAsync(s => s.AccountId == accountId && s.Open, cancellationToken);
        var free = price.Amount == 0;
        // A free-with-ads subscription is left for a paid plan through this same checkout: the paid plan starts now at its
        // full price (prorating a price of 0 credits nothing); the free one ends only once the paid one is taken.
        var leavingFree = open is { Status: SubscriptionStatus.Active } && !free && await IsFreeAsync(open, cancellationToken);
        if (open is { Status: not SubscriptionStatus.Incomplete } && !leavingFree)
        {
            return Answer.Problem(409, "Already subscribed", "This account has a subscription; change its plan instead.");
        }

        if (free)
        {
            return await SubscribeFreeAsync(accountId, email, input, plan, open, cancellationToken);
        }

        if (string.IsNullOrWhiteSpace(input.Card))
        {
            return Answer.Problem(400, "Card required", "This plan is paid: give a card.");
        }

        Coupon? coupon = null;
        if (!string.IsNullOrWhiteSpace(input.PromoCode))
        {
            (coupon, var refused) = await coupons.ResolveAsync(input.PromoCode, accountId, plan, input.Currency, cancellationToken);
            if (refused is not null)
            {
                return refused;
            }
        }

        if (open is not null && !leavingFree)
        {
            await AbandonAsync(open, cancellationToken);
        }

        // A paid plan still waiting for its 3-D Secure payment in place of the free one is replaced by this checkout.
        foreach (var waiting in await db.Subscriptions.Where(s => s.AccountId == accountId && !s.Open && s.Status == SubscriptionStatus.Incomplete && s.EndedAt == null).ToListAsync(cancellationToken))
        {
            await AbandonAsync(waiting, cancellationToken);
        }

        var method = await gateway.TokenizeAsync(input.Card, $"checkout:{accountId:N}:{key}:card", cancellationToken);
        if (method is null)
        {
            return Answer.Problem(402, "Card refused", "The payment gateway did not accept this card.");
        }

        await UpsertCustomerAsync(accountId, email, input.Country, cancellationToken);
        var now = time.GetUtcNow();
        var sub = new Subscription
        {
            Id = Guid.NewGuid(), AccountId = accountId, PlanId = plan.Id, Currency = input.Currency, PaymentMethod = method, CreatedAt = now,
            Anchor = plan.TrialDays > 0 ? now.AddDays(plan.TrialDays) : now, PeriodIndex = plan.TrialDays > 0 ? -1 : 0,
            CouponId = coupon?.Id, CouponPeriodsLeft = coupon is null ? null : Coupons.PeriodsOf(coupon),
        };
        if (plan.TrialDays > 0)
        {
            sub.Status = SubscriptionStatus.Trialing;
            sub.CurrentPeriodStart = now;
            sub.CurrentPeriodEnd = sub.Anchor;
            await LeaveFreeAsync(leavingFree ? open : null, cancellationToken);
            db.Subscriptions.Add(sub);
            await ScheduleAsync(JobKind.Renew, sub, sub.Anchor, sub.Anchor, 0, cancellationToken);
            if (coupon is not null)
            {
                coupons.Redeem(coupon, accountId, sub.Id, null, input.PromoCode!);
            }

            await ChangedAsync(sub, plan, cancellationToken);
            return new Answer(201, new PaymentView(Guid.Empty, "trialing", 0, sub.Currency, Guid.Empty, "", null, null, View(sub, plan, null)), "/api/billing/subscription");
        }

        sub.Status = SubscriptionStatus.Incomplete;
        sub.CurrentPeriodStart = now;
        sub.CurrentPeriodEnd = PeriodStart(sub, plan, 1);
        var discount = coupon is null ? 0 : Coupons.DiscountOf(coupon, price.Amount, input.Currency);
        var invoice = await books.IssueAsync(accountId, input.Country, input.Currency, "subscription", $"{plan.Name} ({plan.Period.ToString().ToLowerInvariant()}), {now.UtcDateTime:yyyy-MM-dd} to {sub.CurrentPeriodEnd.UtcDateTime:yyyy-MM-dd}",
            price.Amount, sub.Id, plan.Id, null, sub.CurrentPeriodStart, sub.CurrentPeriodEnd, cancellationToken, discount, coupon is null ? null : Coupons.Describe(coupon));
        var assessment = await fraud.AssessAsync(accountId, email, "subscription", invoice.Total, invoice.Currency, input.Country, method, cancellationToken);
        if (assessment?.Decision == FraudDecision.Block)
        {
            invoice.Status = InvoiceStatus.Void;
            invoice.SubscriptionId = null;
            return Answer.Problem(402, "Payment refused", FraudCheck.Explain(assessment));
        }

        var chargeKey = $"checkout:{accountId:N}:{key}";
        var charge = assessment?.Decision == FraudDecision.Challenge
            ? await gateway.ChargeChallengedAsync(chargeKey, invoice.Total, invoice.Currency, method, cancellationToken)
            : await gateway.ChargeAsync(chargeKey, invoice.Total, invoice.Currency, method, onSession: true, cancellationToken);
        var payment = Record(accountId, invoice, charge);
        assessment?.PaymentId = payment.Id;
        if (charge.State == ChargeState.Failed)
        {
            invoice.Status = InvoiceStatus.Void;
            invoice.SubscriptionId = null;
            return Answer.Problem(402, "Payment declined", Explain(charge.Failure));
        }

        if (coupon is not null)
        {
            coupons.Redeem(coupon, accountId, sub.Id, invoice.Id, input.PromoCode!);
            sub.CouponPeriodsLeft--; // the first charge is one of its periods (null, forever, stays null)
        }

        db.Subscriptions.Add(sub);
        if (charge.State == ChargeState.Succeeded)
        {
            await LeaveFreeAsync(leavingFree ? open : null, cancellationToken);
            await FulfilAsync(payment, invoice, sub, cancellationToken);
            return new Answer(201, PaymentViewOf(payment, invoice, View(sub, plan, null)), "/api/billing/subscription") { Compensate = charge.Id };
        }

        // 3-D Secure: the free plan stays open (and plays) until the paid one's payment succeeds; the paid one waits
        // closed and opens in its place then (FulfilAsync); if the payment fails or is abandoned, nothing changed.
        sub.Open = !leavingFree;
        return new Answer(202, PaymentViewOf(payment, invoice, View(sub, plan, null), charge.ActionUrl)) { Compensate = charge.Id };
    }

    /// <summary>
    /// Free with ads: no card, no gateway, no invoice, no fraud check; active at once for a period whose renewal rolls on
    /// without a charge (<see cref="BillingScheduler"/>).
    /// </summary>
    private async Task<Answer> SubscribeFreeAsync(Guid accountId, string email, CheckoutInput input, Plan plan, Subscription? open, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(input.PromoCode))
        {
            return Answer.Problem(422, "Promo code not applicable", "This plan is free: promo codes apply to paid plans.");
        }

        if (open is not null)
        {
            await AbandonAsync(open, cancellationToken);
        }

        await UpsertCustomerAsync(accountId, email, input.Country, cancellationToken);
        var now = time.GetUtcNow();
        var sub = new Subscription
        {
            Id = Guid.NewGuid(), AccountId = accountId, PlanId = plan.Id, Currency = input.Currency, PaymentMethod = "", CreatedAt = now, Anchor = now, PeriodIndex = 0,
            Status = SubscriptionStatus.Active, CurrentPeriodStart = now,
        };
        sub.CurrentPeriodEnd = PeriodStart(sub, plan, 1);
        db.Subscriptions.Add(sub);
        await ScheduleAsync(JobKind.Renew, sub, sub.CurrentPeriodEnd, sub.CurrentPeriodEnd, 0, cancellationToken);
        await ChangedAsync(sub, plan, cancellationToken);
        return new Answer(201, new PaymentView(Guid.Empty, "free", 0, sub.Currency, Guid.Empty, "", null, null, View(sub, plan, null)), "/api/billing/subscription");
    }

    /// <summary>True when the subscription's plan costs nothing in its currency (free with ads).</summary>
    public Task<bool> IsFreeAsync(Subscription sub, CancellationToken cancellationToken) => IsFreeAsync(sub.PlanId, sub.Currency, cancellationToken);

    /// <summary>Whether the plan costs nothing in this currency (free with ads).</summary>
    private Task<bool> IsFreeAsync(Guid planId, string currency, CancellationToken cancellationToken) =>
        db.PlanPrices.AnyAsync(p => p.PlanId == planId && p.Currency == currency && p.Amount == 0, cancellationToken);

    /// <summary>Ends the free subscription a paid one replaces (in the same save as the paid one's start).</summary>
    private async Task LeaveFreeAsync(Subscription? free, CancellationToken cancellationToken)
    {
        if (free is null)
        {
            return;
        }

        End(free);
        await ChangedAsync(free, await db.Plans.FirstAsync(p => p.Id == free.PlanId, cancellationToken), cancellationToken);
    }

    /// <param name="viewerCountry">
    /// The viewer's country as playback resolves it from the request (<see cref="IClientCountry"/>; null when unknown), not
    /// the billing country of <paramref name="input"/>: a title no licence in force lets this viewer rent or buy here is
    /// refused before anything is charged or written (<see cref="TvodLicensing"/>).
    /// </param>
    public async Task<Answer> BuyTitleAsync(Guid accountId, string email, Guid titleId, GrantKind kind, TitlePurchaseInput input, string key, string? viewerCountry, CancellationToken cancellationToken)
    {
        var offer = await db.TitleOffers.AsNoTracking().FirstOrDefaultAsync(o => o.TitleId == titleId, cancellationToken);
        var net = kind == GrantKind.Rental ? offer?.RentalPrice : offer?.PurchasePrice;
        if (offer is null || net is null)
        {
            return Answer.Problem(404, kind == GrantKind.Rental ? "Not for rent" : "Not for sale", "This title has no such offer.");
        }

        if (!await licensing.GrantedAsync(titleId, viewerCountry, cancellationToken))
        {
            return TvodLicensing.Refusal(viewerCountry);
        }

        var method = await gateway.TokenizeAsync(input.Card, $"{(kind == GrantKind.Rental ? "rental" : "purchase")}:{accountId:N}:{key}:card", cancellationToken);
        if (method is null)
        {
            return Answer.Problem(402, "Card refused", "The payment gateway did not accept this card.");
        }

        await UpsertCustomerAsync(accountId, email, input.Country, cancellationToken);
        var purpose = kind == GrantKind.Rental ? "rental" : "purchase";
        var invoice = await books.IssueAsync(accountId, input.Country, offer.Currency, purpose, $"{(kind == GrantKind.Rental ? "Rental" : "Purchase")} of title {titleId}",
            net.Value, null, null, titleId, null, null, cancellationToken);
        var assessment = await fraud.AssessAsync(accountId, email, purpose, invoice.Total, invoice.Currency, input.Country, method, cancellationToken);
        if (assessment?.Decision == FraudDecision.Block)
        {
            invoice.Status = InvoiceStatus.Void;
            return Answer.Problem(402, "Payment refused", FraudCheck.Explain(assessment));
        }

        var chargeKey = $"{purpose}:{accountId:N}:{key}";
        var charge = assessment?.Decision == FraudDecision.Challenge
            ? await gateway.ChargeChallengedAsync(chargeKey, invoice.Total, invoice.Currency, method, cancellationToken)
            : await gateway.ChargeAsync(chargeKey, invoice.Total, invoice.Currency, method, onSession: true, cancellationToken);
        var payment = Record(accountId, invoice, charge);
        assessment?.PaymentId = payment.Id;
        if (charge.State == ChargeState.Failed)
        {
            invoice.Status = InvoiceStatus.Void;
            return Answer.Problem(402, "Payment declined", Explain(charge.Failure));
        }

        if (charge.State == ChargeState.Succeeded)
        {
            await FulfilAsync(payment, invoice, null, cancellationToken);
            return new Answer(201, PaymentViewOf(payment, invoice, null)) { Compensate = charge.Id };
        }

        return new Answer(202, PaymentViewOf(payment, invoice, null, charge.ActionUrl)) { Compensate = charge.Id };
    }

    /// <summary>Upgrade at once with a prorated charge for the rest of the period; downgrade at the next renewal.</summary>
    public async Task<Answer> ChangePlanAsync(Guid accountId, PlanChangeInput input, string key, CancellationToken cancellationToken)
    {
        var sub = await db.Subscriptions.FirstOrDefaultAsync(s => s.AccountId == accountId && s.Open, cancellationToken);
        if (sub is null || sub.Status is not (SubscriptionStatus.Active or SubscriptionStatus.Trialing))
        {
            return Answer.Problem(409, "No active subscription", "Only an active subscription changes plan.");
        }

        var current = await db.Plans.Include(p => p.Prices).FirstAsync(p => p.Id == sub.PlanId, cancellationToken);
        var target = await db.Plans.Include(p => p.Prices).FirstOrDefaultAsync(p => p.Code == input.Plan && p.Active, cancellationToken);
        if (target is null)
        {
            return Answer.Problem(404, "No such plan", $"There is no plan '{input.Plan}' on sale.");
        }

        if (target.Period != current.Period || target.Prices.FirstOrDefault(p => p.Currency == sub.Currency) is not { } newPrice)
        {
            return Answer.Problem(400, "Plan not comparable", "Change to a plan with the same billing period, priced in your currency.");
        }

        if (target.Id == current.Id)
        {
            sub.NextPlanId = null;
            return new Answer(200, View(sub, current, null));
        }

        var oldPrice = current.Prices.First(p => p.Currency == sub.Currency).Amount;
        if (oldPrice == 0 && newPrice.Amount > 0)
        {
            return Answer.Problem(409, "Choose the paid plan at checkout", $"A free plan has no card on file: subscribe to '{target.Code}' at checkout (POST /api/billing/checkout); it starts now at its full price and replaces the free plan.");
        }

        var now = time.GetUtcNow();
        var prorated = Prorate(newPrice.Amount, sub.CurrentPeriodStart, sub.CurrentPeriodEnd, now) - Prorate(oldPrice, sub.CurrentPeriodStart, sub.CurrentPeriodEnd, now);
        if (newPrice.Amount <= oldPrice || sub.Status == SubscriptionStatus.Trialing || prorated <= 0)
        {
            sub.NextPlanId = target.Id; // downgrades (and changes during a trial) take effect at the next renewal
            sub.Version++;
            await ChangedAsync(sub, current, cancellationToken);
            return new Answer(200, View(sub, current, target));
        }

        var customer = await db.Customers.FirstAsync(c => c.AccountId == accountId, cancellationToken);
        var invoice = await books.IssueAsync(accountId, customer.Country, sub.Currency, "proration",
            $"Upgrade from {current.Name} to {target.Name}, {now.UtcDateTime:yyyy-MM-dd HH:mm} to {sub.CurrentPeriodEnd.UtcDateTime:yyyy-MM-dd HH:mm} (prorated)",
            prorated, sub.Id, target.Id, null, now, sub.CurrentPeriodEnd, cancellationToken);
        var charge = await gateway.ChargeAsync($"upgrade:{sub.Id:N}:{key}", invoice.Total, invoice.Currency, sub.PaymentMethod, onSession: true, cancellationToken);
        var payment = Record(accountId, invoice, charge);
        sub.Version++; // a concurrent change of the same subscription fails to save: proration is computed once
        if (charge.State == ChargeState.Failed)
        {
            invoice.Status = InvoiceStatus.Void;
            return Answer.Problem(402, "Payment declined", Explain(charge.Failure));
        }

        if (charge.State == ChargeState.Succeeded)
        {
            await FulfilAsync(payment, invoice, sub, cancellationToken);
        }

        return new Answer(charge.State == ChargeState.Succeeded ? 200 : 202, PaymentViewOf(payment, invoice, View(sub, target, null), charge.ActionUrl)) { Compensate = charge.Id };
    }

    /// <summary>Prorated part of a period's price for [now, end), in minor units (rounded half away from zero).</summary>
    public static long Prorate(long price, DateTimeOffset start, DateTimeOffset end, DateTimeOffset now) =>
        now >= end ? 0 : (long)Math.Round(price * (decimal)(end - now).Ticks / (end - start).Ticks, MidpointRounding.AwayFromZero);

    /// <summary>A new card on file; a subscription in dunning is charged again at once (recovery restores access).</summary>
    public async Task<Answer> UpdateCardAsync(Guid accountId, CardInput input, string key, CancellationToken cancellationToken)
    {
        var sub = await db.Subscriptions.FirstOrDefaultAsync(s => s.AccountId == accountId && s.Open, cancellationToken);
        if (sub is null)
        {
            return Answer.Problem(404, "No subscription");
        }

        var method = await gateway.TokenizeAsync(input.Card, $"card:{sub.Id:N}:{key}", cancellationToken);
        if (method is null)
        {
            return Answer.Problem(402, "Card refused", "The payment gateway did not accept this card.");
        }

        sub.PaymentMethod = method;
        sub.Version++;
        var plan = await db.Plans.FirstAsync(p => p.Id == sub.PlanId, cancellationToken);
        if (sub.Status is SubscriptionStatus.PastDue or SubscriptionStatus.Suspended
            && await db.Invoices.FirstOrDefaultAsync(i => i.SubscriptionId == sub.Id && i.Status == InvoiceStatus.Open && i.Purpose == "subscription", cancellationToken) is { } due)
        {
            var charge = await gateway.ChargeAsync($"recover:{sub.Id:N}:{key}", due.Total, due.Currency, method, onSession: false, cancellationToken);
            var payment = Record(accountId, due, charge);
            if (charge.State == ChargeState.Succeeded)
            {
                await FulfilAsync(payment, due, sub, cancellationToken);
            }

            return new Answer(200, PaymentViewOf(payment, due, View(sub, plan, null))) { Compensate = charge.State == ChargeState.Succeeded ? charge.Id : null };
        }

        return new Answer(200, View(sub, plan, null));
    }

    /// <summary>Refunds a paid invoice in full with a credit note; a subscription it paid for ends now, a rental or purchase is revoked.</summary>
    public async Task<Answer> RefundAsync(Guid invoiceId, RequestActor actor, CancellationToken cancellationToken)
    {
        var invoice = await db.Invoices.Include(i => i.Lines).FirstOrDefaultAsync(i => i.Id == invoiceId && i.Kind == InvoiceKind.Invoice, cancellationToken);
        if (invoice is null)
        {
            return Answer.Problem(404, "No such invoice");
        }

        var payment = await db.Payments.FirstOrDefaultAsync(p => p.InvoiceId == invoiceId && p.Status == PaymentStatus.Succeeded, cancellationToken);
        if (invoice.Status != InvoiceStatus.Paid || payment is null)
        {
            var other = await db.Payments.AsNoTracking().FirstOrDefaultAsync(p => p.InvoiceId == invoiceId && (p.Status == PaymentStatus.RefundPending || p.Status == PaymentStatus.RefundFailed), cancellationToken);
            return other?.Status switch
            {
                PaymentStatus.RefundPending => Answer.Problem(409, "Refund pending", "A refund of this invoice is under way at the payment gateway."),
                PaymentStatus.RefundFailed => Answer.Problem(409, "Refund failed", $"The gateway's refund of this invoice failed ({other.Failure}): resolve it in the gateway's dashboard."),
                _ => Answer.Problem(409, "Not refundable", "Only a paid invoice that has not been refunded can be refunded."),
            };
        }

        var refunded = await gateway.RefundAsync(payment.GatewayRef, cancellationToken);
        if (refunded.State == ChargeState.RefundPending)
        {
            // Under way at the gateway (Stripe's "pending"): nothing is credited yet; the refund's webhook (or a re-fetch)
            // completes it with the credit note, or marks it failed (ConvergeAsync).
            payment.Status = PaymentStatus.RefundPending;
            payment.Version++;
            db.Publish(new AuditRequested(new AuditRecord(actor.Name, "billing.refund-pending", $"invoice:{invoice.Number}", actor.From, $"{invoice.Total} {invoice.Currency}"), time.GetUtcNow()));
            return new Answer(202, new RefundPendingView(invoice.Id, invoice.Number, payment.Id, "refund_pending", invoice.Total, invoice.Currency));
        }

        if (refunded.State != ChargeState.Refunded)
        {
            return Answer.Problem(502, "Refund failed", "The gateway did not refund the charge.");
        }

        var note = await RefundLocallyAsync(invoice, payment, cancellationToken);
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, "billing.refunded", $"invoice:{invoice.Number}", actor.From, $"{note.Number}, {invoice.Total} {invoice.Currency}"), time.GetUtcNow()));
        return new Answer(200, InvoiceView.Of(note));
    }

    private async Task<Invoice> RefundLocallyAsync(Invoice invoice, Payment payment, CancellationToken cancellationToken)
    {
        var note = await books.CreditAsync(invoice, payment, cancellationToken);
        if (invoice.SubscriptionId is { } subId
            && await db.Subscriptions.FirstOrDefaultAsync(s => s.Id == subId && s.Open, cancellationToken) is { } sub
            && invoice.PeriodEnd >= sub.CurrentPeriodEnd)
        {
            End(sub);
            await ChangedAsync(sub, await db.Plans.FirstAsync(p => p.Id == sub.PlanId, cancellationToken), cancellationToken);
        }

        foreach (var grant in await db.TitleGrants.Where(g => g.PaymentId == payment.Id).ToListAsync(cancellationToken))
        {
            grant.Revoked = true;
        }

        return note;
    }

    public async Task<SubscriptionView?> CancelAsync(Guid accountId, bool cancel, CancellationToken cancellationToken)
    {
        var sub = await db.Subscriptions.FirstOrDefaultAsync(s => s.AccountId == accountId && s.Open, cancellationToken);
        if (sub is null)
        {
            return null;
        }

        var plan = await db.Plans.FirstAsync(p => p.Id == sub.PlanId, cancellationToken);
        if (sub.Status == SubscriptionStatus.Incomplete && cancel)
        {
            await AbandonAsync(sub, cancellationToken);
        }
        else
        {
            sub.CancelAtPeriodEnd = cancel;
            sub.Version++;
        }

        await ChangedAsync(sub, plan, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        return View(sub, plan, null);
    }

    /// <summary>
    /// Brings a payment to the gateway's state of its charge (after a 3-D Secure return or a webhook, in any order, any
    /// number of times). False when no payment has that charge (yet). Does not save.
    /// </summary>
    public async Task<bool> ConvergeAsync(string chargeId, CancellationToken cancellationToken)
    {
        var payment = await db.Payments.FirstOrDefaultAsync(p => p.GatewayRef == chargeId, cancellationToken);
        var charge = payment is null ? null : await gateway.GetChargeAsync(chargeId, cancellationToken);
        if (payment is null || charge is null)
        {
            return false;
        }

        var invoice = await db.Invoices.Include(i => i.Lines).FirstAsync(i => i.Id == payment.InvoiceId, cancellationToken);
        var sub = invoice.SubscriptionId is { } id ? await db.Subscriptions.FirstOrDefaultAsync(s => s.Id == id, cancellationToken) : null;
        switch (charge.State)
        {
            case ChargeState.Succeeded when payment.Status is PaymentStatus.RequiresAction or PaymentStatus.Failed && invoice.Status != InvoiceStatus.Paid:
                payment.Fee = charge.Fee;
                invoice.Status = InvoiceStatus.Open;
                await FulfilAsync(payment, invoice, sub, cancellationToken);
                break;
            case ChargeState.Failed when payment.Status == PaymentStatus.RequiresAction:
                payment.Status = PaymentStatus.Failed;
                payment.Failure = charge.Failure;
                if (invoice.Purpose != "subscription" || sub?.Status == SubscriptionStatus.Incomplete)
                {
                    invoice.Status = InvoiceStatus.Void;
                }

                if (sub is { Status: SubscriptionStatus.Incomplete })
                {
                    End(sub);
                }

                break;
            case ChargeState.Refunded when payment.Status is PaymentStatus.Succeeded or PaymentStatus.RefundPending or PaymentStatus.RefundFailed:
                await RefundLocallyAsync(invoice, payment, cancellationToken);
                break;
            case ChargeState.Refunded or ChargeState.RefundPending when payment.Status == PaymentStatus.RequiresAction && invoice.Status != InvoiceStatus.Paid:
                // Paid, then refunded at the gateway before Marquee heard of the payment (events newest first): both happened.
                payment.Fee = charge.Fee;
                invoice.Status = InvoiceStatus.Open;
                await FulfilAsync(payment, invoice, sub, cancellationToken);
                if (charge.State == ChargeState.Refunded)
                {
                    await RefundLocallyAsync(invoice, payment, cancellationToken);
                }
                else
                {
                    payment.Status = PaymentStatus.RefundPending;
                }

                break;
            case ChargeState.RefundPending when payment.Status is PaymentStatus.Succeeded or PaymentStatus.RefundFailed:
                payment.Status = PaymentStatus.RefundPending;
                payment.Version++;
                break;
            case ChargeState.Succeeded when payment.Status == PaymentStatus.RefundPending:
                // The refund failed at the gateway: the money stays paid; finance sees the payment as RefundFailed.
                payment.Status = PaymentStatus.RefundFailed;
                payment.Failure = charge.Failure ?? "refund_failed";
                payment.Version++;
                break;
        }

        return true;
    }

    /// <summary>A charge succeeded for an invoice: books it and gives what was paid for (a period, an upgrade, a rental, a purchase).</summary>
    public async Task FulfilAsync(Payment payment, Invoice invoice, Subscription? sub, CancellationToken cancellationToken)
    {
        var plan = invoice.PlanId is { } planId ? await db.Plans.FirstOrDefaultAsync(p => p.Id == planId, cancellationToken) : null;
        books.Settle(payment, invoice, plan?.Period);
        var now = time.GetUtcNow();
        switch (invoice.Purpose)
        {
            case "subscription" when sub is not null && plan is not null:
                if (!sub.Open && sub.EndedAt is null)
                {
                    // A paid plan that waited (3-D Secure) in place of the free one: the free one ends now, this one opens.
                    await LeaveFreeAsync(await db.Subscriptions.FirstOrDefaultAsync(s => s.AccountId == sub.AccountId && s.Open && s.Id != sub.Id, cancellationToken), cancellationToken);
                    sub.Open = true;
                }

                sub.Status = SubscriptionStatus.Active;
                sub.CurrentPeriodStart = invoice.PeriodStart!.Value;
                sub.CurrentPeriodEnd = invoice.PeriodEnd!.Value;
                sub.FailedAttempts = 0;
                sub.PastDueSince = null;
                sub.Version++;
                await ScheduleAsync(JobKind.Renew, sub, sub.CurrentPeriodEnd, sub.CurrentPeriodEnd, 0, cancellationToken);
                await ChangedAsync(sub, plan, cancellationToken);
                break;
            case "proration" when sub is not null && plan is not null:
                sub.PlanId = plan.Id;
                sub.NextPlanId = null;
                sub.Version++;
                await ChangedAsync(sub, plan, cancellationToken);
                break;
            case "rental" or "purchase":
                db.TitleGrants.Add(new TitleGrant
                {
                    Id = Guid.NewGuid(), AccountId = payment.AccountId, TitleId = invoice.TitleId!.Value, PaymentId = payment.Id, GrantedAt = now,
                    Kind = invoice.Purpose == "rental" ? GrantKind.Rental : GrantKind.Purchase,
                });
                break;
        }
    }

    public Payment Record(Guid accountId, Invoice invoice, GatewayCharge charge)
    {
        var payment = new Payment
        {
            Id = Guid.NewGuid(), AccountId = accountId, InvoiceId = invoice.Id, Amount = invoice.Total, Fee = charge.Fee, Currency = invoice.Currency,
            GatewayRef = charge.Id, CreatedAt = time.GetUtcNow(), Failure = charge.Failure,
            Status = charge.State switch
            {
                ChargeState.Succeeded => PaymentStatus.Succeeded,
                ChargeState.RequiresAction => PaymentStatus.RequiresAction,
                _ => PaymentStatus.Failed,
            },
        };
        if (payment.Status == PaymentStatus.Succeeded)
        {
            payment.Status = PaymentStatus.RequiresAction; // settled by FulfilAsync
        }

        db.Payments.Add(payment);
        return payment;
    }

    public async Task ScheduleAsync(JobKind kind, Subscription sub, DateTimeOffset periodStart, DateTimeOffset dueAt, int attempt, CancellationToken cancellationToken)
    {
        var key = kind == JobKind.Renew ? $"renew:{sub.Id:N}:{periodStart.UtcTicks}" : $"retry:{sub.Id:N}:{periodStart.UtcTicks}:{attempt}";
        if (db.Jobs.Local.Any(j => j.Key == key) || await db.Jobs.AnyAsync(j => j.Key == key, cancellationToken))
        {
            return;
        }

        db.Jobs.Add(new BillingJob { Id = Guid.NewGuid(), Kind = kind, Key = key, SubscriptionId = sub.Id, PeriodStart = periodStart, DueAt = dueAt, Attempt = attempt });
    }

    public void End(Subscription sub)
    {
        sub.Status = SubscriptionStatus.Canceled;
        sub.Open = false;
        sub.EndedAt = time.GetUtcNow();
        sub.Version++;
    }

    /// <summary>Publishes the subscription's new state; <c>Paying</c> is false on a plan that costs nothing in its currency (free with ads).</summary>
    public async Task ChangedAsync(Subscription sub, Plan plan, CancellationToken cancellationToken) =>
        db.Publish(new SubscriptionChanged(sub.Id, sub.AccountId, plan.Code, sub.Status.ToString(), sub.CurrentPeriodEnd, time.GetUtcNow(),
            Paying: !await IsFreeAsync(plan.Id, sub.Currency, cancellationToken)));

    public static SubscriptionView View(Subscription s, Plan plan, Plan? next) =>
        new(s.Id, plan.Code, plan.Name, s.Status.ToString(), s.Currency, s.CurrentPeriodStart, s.CurrentPeriodEnd, s.CancelAtPeriodEnd, next?.Code, plan.MaxHeight, plan.Streams, plan.WithAds);

    private static PaymentView PaymentViewOf(Payment p, Invoice i, SubscriptionView? sub, string? redirect = null) =>
        new(p.Id, p.Status == PaymentStatus.RequiresAction && redirect is not null ? "requires_action" : p.Status.ToString().ToLowerInvariant(), p.Amount, p.Currency, i.Id, i.Number, redirect, p.Failure, sub);

    private async Task AbandonAsync(Subscription sub, CancellationToken cancellationToken)
    {
        End(sub);
        foreach (var invoice in await db.Invoices.Where(i => i.SubscriptionId == sub.Id && i.Status == InvoiceStatus.Open).ToListAsync(cancellationToken))
        {
            invoice.Status = InvoiceStatus.Void;
        }
    }

    private async Task UpsertCustomerAsync(Guid accountId, string email, string country, CancellationToken cancellationToken)
    {
        var customer = await db.Customers.FirstOrDefaultAsync(c => c.AccountId == accountId, cancellationToken);
        if (customer is null)
        {
            db.Customers.Add(new Customer { AccountId = accountId, Email = email, Country = country, CreatedAt = time.GetUtcNow() });
        }
        else
        {
            customer.Email = email;
            customer.Country = country;
        }
    }

    private static string Explain(string? failure) => failure switch
    {
        "card_declined" => "The card was declined.",
        "insufficient_funds" => "The card has insufficient funds.",
        "authentication_failed" => "The payment was not confirmed.",
        _ => "The payment did not go through.",
    };
}
