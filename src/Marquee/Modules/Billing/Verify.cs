using Marquee.Billing.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Billing;

internal sealed record AccountTotal(string Type, string Account, string Currency, long Debit, long Credit)
{
    /// <summary>Debit-normal accounts (assets, expenses) show debit minus credit; the others credit minus debit.</summary>
    public long Balance => Type is nameof(AccountType.Asset) or nameof(AccountType.Expense) ? Debit - Credit : Credit - Debit;
}

internal sealed record LedgerReport(IReadOnlyList<AccountTotal> Totals, int Transactions, int Payments, int Invoices, int Subscriptions, IReadOnlyList<string> Problems);

/// <summary>
/// <c>marquee billing verify</c>: every ledger transaction balances per currency; every succeeded payment is posted and
/// pays a paid invoice of its amount; every paid invoice has its payment; deferred revenue equals what is left to recognise;
/// tax payable equals the tax of paid invoices less credit notes; every subscription that plays has its period paid (but one
/// on a plan that is free with ads in its currency: it has no invoices).
/// </summary>
internal sealed class LedgerVerifier(BillingDb db, TimeProvider time)
{
    public async Task<LedgerReport> VerifyAsync(CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var entries = await db.Ledger.AsNoTracking().ToListAsync(cancellationToken);
        foreach (var tx in entries.GroupBy(e => (e.TransactionId, e.Currency)))
        {
            if (tx.Sum(e => e.Debit) != tx.Sum(e => e.Credit))
            {
                problems.Add($"ledger transaction {tx.Key.TransactionId} ({tx.First().Source}) does not balance in {tx.Key.Currency}: debits {tx.Sum(e => e.Debit)}, credits {tx.Sum(e => e.Credit)}");
            }
        }

        if (entries.Select(e => e.TransactionId).Distinct().Count() != entries.GroupBy(e => e.TransactionId).Count(g => g.Select(e => e.Currency).Distinct().Count() == 1))
        {
            problems.Add("a ledger transaction mixes currencies");
        }

        var payments = await db.Payments.AsNoTracking().ToListAsync(cancellationToken);
        var invoices = await db.Invoices.AsNoTracking().Include(i => i.Lines).ToDictionaryAsync(i => i.Id, cancellationToken);
        var sources = entries.Select(e => e.Source).ToHashSet(StringComparer.Ordinal);
        foreach (var p in payments.Where(p => p.Status is PaymentStatus.Succeeded or PaymentStatus.Refunded or PaymentStatus.RefundPending or PaymentStatus.RefundFailed))
        {
            if (!sources.Contains($"payment:{p.Id}"))
            {
                problems.Add($"payment {p.Id} succeeded but is not in the ledger");
            }

            if (!invoices.TryGetValue(p.InvoiceId, out var inv) || inv.Status != InvoiceStatus.Paid || inv.Total != p.Amount || inv.Currency != p.Currency)
            {
                problems.Add($"payment {p.Id} does not match a paid invoice of {p.Amount} {p.Currency}");
            }

            if (p.Status == PaymentStatus.Refunded && !sources.Contains($"refund:{p.Id}"))
            {
                problems.Add($"payment {p.Id} was refunded but the refund is not in the ledger");
            }
        }

        foreach (var p in payments.Where(p => p.Status is PaymentStatus.Failed or PaymentStatus.RequiresAction && sources.Contains($"payment:{p.Id}")))
        {
            problems.Add($"payment {p.Id} is {p.Status} but was posted to the ledger");
        }

        var settled = payments.Where(p => p.Status is PaymentStatus.Succeeded or PaymentStatus.Refunded or PaymentStatus.RefundPending or PaymentStatus.RefundFailed).GroupBy(p => p.InvoiceId).ToDictionary(g => g.Key, g => g.Count());
        foreach (var inv in invoices.Values)
        {
            if (inv.Net + inv.Tax != inv.Total || inv.Lines.Sum(l => l.Amount) != inv.Total)
            {
                problems.Add($"invoice {inv.Number}: lines, net, tax and total disagree");
            }

            var count = settled.GetValueOrDefault(inv.Id);
            if (inv.Kind == InvoiceKind.Invoice && inv.Status == InvoiceStatus.Paid && count != 1)
            {
                problems.Add($"invoice {inv.Number} is paid but has {count} settled payments");
            }

            if (inv.Kind == InvoiceKind.Invoice && inv.Status != InvoiceStatus.Paid && count > 0)
            {
                problems.Add($"invoice {inv.Number} is {inv.Status} but has a settled payment");
            }
        }

        foreach (var series in invoices.Values.GroupBy(i => i.Series))
        {
            var numbers = series.Select(i => i.Sequence).Order().ToList();
            if (numbers.Count > 0 && (numbers[0] != 1 || numbers[^1] != numbers.Count))
            {
                problems.Add($"invoice series {series.Key} has gaps or duplicates (1..{numbers[^1]}, {numbers.Count} invoices)");
            }
        }

        var slices = await db.Recognitions.AsNoTracking().ToListAsync(cancellationToken);
        foreach (var currency in entries.Select(e => e.Currency).Distinct())
        {
            var deferred = entries.Where(e => e.Currency == currency && e.Account == Accounts.Deferred).Sum(e => e.Credit - e.Debit);
            var pending = slices.Where(s => s.Currency == currency && s.RecognisedAt == null && !s.Cancelled).Sum(s => s.Amount);
            if (deferred != pending)
            {
                problems.Add($"deferred revenue in {currency} is {deferred} but {pending} is left to recognise");
            }

            var tax = entries.Where(e => e.Currency == currency && e.Account == Accounts.TaxPayable).Sum(e => e.Credit - e.Debit);
            var invoicedTax = invoices.Values.Where(i => i.Currency == currency && i.Status == InvoiceStatus.Paid).Sum(i => i.Tax);
            if (tax != invoicedTax)
            {
                problems.Add($"tax payable in {currency} is {tax} but paid invoices and credit notes say {invoicedTax}");
            }
        }

        var now = time.GetUtcNow();
        var subs = await db.Subscriptions.AsNoTracking().ToListAsync(cancellationToken);
        var free = (await db.PlanPrices.AsNoTracking().Where(p => p.Amount == 0).Select(p => new { p.PlanId, p.Currency }).ToListAsync(cancellationToken))
            .Select(p => (p.PlanId, p.Currency)).ToHashSet();
        foreach (var s in subs.Where(s => s.Open && s.Status == SubscriptionStatus.Active && !free.Contains((s.PlanId, s.Currency))))
        {
            var paid = invoices.Values.Any(i => i.SubscriptionId == s.Id && i.Kind == InvoiceKind.Invoice && i.Purpose == "subscription" && i.Status == InvoiceStatus.Paid
                                               && i.PeriodStart <= s.CurrentPeriodStart && i.PeriodEnd >= s.CurrentPeriodEnd);
            if (!paid)
            {
                problems.Add($"subscription {s.Id} is active for {s.CurrentPeriodStart:u} to {s.CurrentPeriodEnd:u} without a paid invoice for it");
            }
        }

        if (subs.Where(s => s.Open).GroupBy(s => s.AccountId).Any(g => g.Count() > 1))
        {
            problems.Add("an account has more than one open subscription");
        }

        var totals = entries.GroupBy(e => (e.Type, e.Account, e.Currency))
            .Select(g => new AccountTotal(g.Key.Type.ToString(), g.Key.Account, g.Key.Currency, g.Sum(e => e.Debit), g.Sum(e => e.Credit)))
            .OrderBy(t => t.Type, StringComparer.Ordinal).ThenBy(t => t.Account, StringComparer.Ordinal).ThenBy(t => t.Currency, StringComparer.Ordinal).ToList();
        _ = now;
        return new LedgerReport(totals, entries.Select(e => e.TransactionId).Distinct().Count(), payments.Count, invoices.Count, subs.Count, problems);
    }
}
