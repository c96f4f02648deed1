using Marquee.Billing.Data;
using Marquee.Identity.Contracts;
using Marquee.Platform.Events;
using Marquee.Platform.Privacy;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Billing;

/// <summary>
/// Billing's personal data: the customer (e-mail, tax country), subscriptions, invoices with their lines, payments,
/// rentals and purchases, coupon redemptions. Erasure: open subscriptions end at once (no further charge), grants are
/// revoked, the fraud assessments lose their IP address and card fingerprint, and then every row keeps its figures but
/// names the erasure's pseudonym instead of the account (<see cref="PersonalDataScrub.PseudonymiseAsync"/>): invoices,
/// credit notes, payments and the ledger are kept for the legal retention period (tax law), but no longer point at anyone.
/// </summary>
internal sealed class BillingPrivacy(BillingDb db, IMail mail) : IPersonalData, IDomainEventHandler<AccountDeleted>
{
    public string Section => "billing";

    public async Task<object?> ExportAsync(Guid accountId, CancellationToken cancellationToken)
    {
        var customer = await db.Customers.AsNoTracking().SingleOrDefaultAsync(c => c.AccountId == accountId, cancellationToken);
        var subscriptions = await db.Subscriptions.AsNoTracking().Where(s => s.AccountId == accountId).ToListAsync(cancellationToken);
        var invoices = await db.Invoices.AsNoTracking().Include(i => i.Lines).Where(i => i.AccountId == accountId).ToListAsync(cancellationToken);
        var payments = await db.Payments.AsNoTracking().Where(p => p.AccountId == accountId).ToListAsync(cancellationToken);
        var grants = await db.TitleGrants.AsNoTracking().Where(g => g.AccountId == accountId).ToListAsync(cancellationToken);
        var redemptions = await db.CouponRedemptions.AsNoTracking().Where(r => r.AccountId == accountId).ToListAsync(cancellationToken);
        if (customer is null && subscriptions.Count == 0 && invoices.Count == 0 && payments.Count == 0 && grants.Count == 0)
        {
            return null;
        }

        return new
        {
            customer = customer is null ? null : new { customer.Email, customer.Country, customer.CreatedAt },
            subscriptions = subscriptions.OrderBy(s => s.CreatedAt).Select(s => new
            {
                s.Id, s.PlanId, status = s.Status.ToString(), s.Currency, s.CurrentPeriodStart, s.CurrentPeriodEnd, s.CancelAtPeriodEnd, s.CreatedAt, s.EndedAt,
            }).ToList(),
            invoices = invoices.OrderBy(i => i.IssuedAt).ThenBy(i => i.Number, StringComparer.Ordinal).Select(i => new
            {
                i.Id, i.Number, kind = i.Kind.ToString(), status = i.Status.ToString(), i.Purpose, i.Currency, i.Country, i.TaxRate, i.Net, i.Discount, i.Tax, i.Total,
                i.IssuedAt, i.PaidAt, lines = i.Lines.OrderBy(l => l.Position).Select(l => new { l.Description }).ToList(),
            }).ToList(),
            payments = payments.OrderBy(p => p.CreatedAt).Select(p => new
            {
                p.Id, p.InvoiceId, p.Amount, p.Currency, status = p.Status.ToString(), p.CreatedAt, p.SettledAt,
            }).ToList(),
            titleGrants = grants.OrderBy(g => g.GrantedAt).Select(g => new { g.TitleId, kind = g.Kind.ToString(), g.GrantedAt, g.FirstPlayedAt, g.Revoked }).ToList(),
            couponRedemptions = redemptions.OrderBy(r => r.At).Select(r => new { r.PromoCode, r.At }).ToList(),
        };
    }

    public async Task HandleAsync(AccountDeleted domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        ArgumentNullException.ThrowIfNull(context);
        var subject = domainEvent.Subject(context);
        var id = subject.AccountId;
        var at = domainEvent.At;
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Subscriptions.Where(s => s.AccountId == id && s.Open).ExecuteUpdateAsync(s => s
            .SetProperty(x => x.Open, false)
            .SetProperty(x => x.Status, SubscriptionStatus.Canceled)
            .SetProperty(x => x.CancelAtPeriodEnd, false)
            .SetProperty(x => x.EndedAt, at), cancellationToken);
        await db.Subscriptions.Where(s => s.AccountId == id).ExecuteUpdateAsync(s => s.SetProperty(x => x.PaymentMethod, ""), cancellationToken);
        await db.TitleGrants.Where(g => g.AccountId == id).ExecuteUpdateAsync(s => s.SetProperty(x => x.Revoked, true), cancellationToken);
        await db.FraudAssessments.Where(f => f.AccountId == id).ExecuteUpdateAsync(s => s
            .SetProperty(x => x.Ip, (string?)null)
            .SetProperty(x => x.CardFingerprint, (string?)null), cancellationToken);
        await db.Customers.Where(c => c.AccountId == id).ExecuteUpdateAsync(s => s.SetProperty(x => x.Email, ""), cancellationToken);
        await PersonalDataScrub.PseudonymiseAsync(db, subject, cancellationToken);
        await PersonalDataScrub.ScrubOutboxAsync(db, subject, cancellationToken);
        await tx.CommitAsync(cancellationToken);

        // A receipt written while Identity erased (its handler read the customer before the e-mail was blanked) goes
        // now; one written later is removed by the receipt handler itself (it re-reads the customer after sending).
        if (!string.IsNullOrEmpty(domainEvent.Email))
        {
            await mail.ForgetAsync(domainEvent.Email, cancellationToken);
        }
    }
}
