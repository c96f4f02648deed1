using Marquee.Billing.Contracts;
using Marquee.Billing.Data;
using Marquee.Rights.Contracts;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Billing;

/// <summary>Ledger account names and their types.</summary>
internal static class Accounts
{
    public const string Cash = "cash";
    public const string Fees = "gateway-fees";
    public const string TaxPayable = "tax-payable";
    public const string Deferred = "deferred-revenue";
    public const string Revenue = "revenue";

    public static AccountType TypeOf(string account) => account switch
    {
        Cash => AccountType.Asset,
        Fees => AccountType.Expense,
        TaxPayable or Deferred => AccountType.Liability,
        _ => AccountType.Revenue,
    };
}

/// <summary>
/// The bookkeeping: invoices with sequential numbers and tax lines, balanced ledger transactions, deferred revenue and its
/// recognition. Adds to the context; the caller saves, in the same transaction as the effect.
/// </summary>
internal sealed class Books(BillingDb db, IOptions<BillingOptions> options, TimeProvider time)
{
    public decimal TaxRateOf(string country) =>
        options.Value.TaxRates.TryGetValue(country, out var r) ? r : options.Value.DefaultTaxRate;

    public static long TaxOf(long net, decimal rate) => (long)Math.Round(net * rate, MidpointRounding.AwayFromZero);

    /// <summary>The next number of a series (no gaps: the counter is updated in the caller's transaction, optimistically).</summary>
    public async Task<(long Sequence, string Number)> NextNumberAsync(string series, CancellationToken cancellationToken)
    {
        var counter = await db.InvoiceSeries.FirstOrDefaultAsync(s => s.Series == series, cancellationToken);
        if (counter is null)
        {
            counter = new InvoiceSeries { Series = series, Next = 1 };
            db.InvoiceSeries.Add(counter);
        }

        var sequence = counter.Next;
        counter.Next = sequence + 1;
        return (sequence, $"{series}-{sequence:D6}");
    }

    /// <summary>An open invoice for one item, with its tax line.</summary>
    public async Task<Invoice> IssueAsync(Guid accountId, string country, string currency, string purpose, string description, long net,
        Guid? subscriptionId, Guid? planId, Guid? titleId, DateTimeOffset? periodStart, DateTimeOffset? periodEnd, CancellationToken cancellationToken,
        long discount = 0, string? discountDescription = null)
    {
        var price = net;
        net = price - discount; // tax is computed on the discounted amount
        var rate = TaxRateOf(country);
        var tax = TaxOf(net, rate);
        var (sequence, number) = await NextNumberAsync("INV", cancellationToken);
        var invoice = new Invoice
        {
            Id = Guid.NewGuid(),
            Series = "INV",
            Sequence = sequence,
            Number = number,
            Kind = InvoiceKind.Invoice,
            Status = InvoiceStatus.Open,
            AccountId = accountId,
            SubscriptionId = subscriptionId,
            PlanId = planId,
            TitleId = titleId,
            Purpose = purpose,
            PeriodStart = periodStart,
            PeriodEnd = periodEnd,
            Currency = currency,
            Country = country,
            TaxRate = rate,
            Net = net,
            Discount = discount,
            Tax = tax,
            Total = net + tax,
            IssuedAt = time.GetUtcNow(),
        };
        invoice.Lines.Add(new InvoiceLine { Id = Guid.NewGuid(), InvoiceId = invoice.Id, Position = 1, Description = description, Amount = price });
        if (discount != 0)
        {
            invoice.Lines.Add(new InvoiceLine { Id = Guid.NewGuid(), InvoiceId = invoice.Id, Position = 2, Description = $"Discount: {discountDescription ?? "coupon"}", Amount = -discount });
        }

        invoice.Lines.Add(new InvoiceLine
        {
            Id = Guid.NewGuid(), InvoiceId = invoice.Id, Position = 3, IsTax = true, Amount = tax,
            Description = $"Tax {country} {rate * 100:0.##} %",
        });
        db.Invoices.Add(invoice);
        return invoice;
    }

    /// <summary>Posts one balanced transaction; throws when debits and credits differ.</summary>
    public void Post(string currency, string memo, string source, params (string Account, long Debit, long Credit)[] legs)
    {
        if (legs.Sum(l => l.Debit) != legs.Sum(l => l.Credit))
        {
            throw new InvalidOperationException($"Unbalanced ledger transaction for {source}.");
        }

        var tx = Guid.NewGuid();
        var at = time.GetUtcNow();
        foreach (var (account, debit, credit) in legs.Where(l => l.Debit != 0 || l.Credit != 0))
        {
            db.Ledger.Add(new LedgerEntry
            {
                Id = Guid.NewGuid(), TransactionId = tx, At = at, Account = account, Type = Accounts.TypeOf(account), Currency = currency,
                Debit = debit, Credit = credit, Memo = memo, Source = source,
            });
        }
    }

    /// <summary>
    /// A payment succeeded for an invoice: the invoice is paid; cash (less the fee), the fee, tax payable and deferred revenue
    /// are posted; the revenue is scheduled (monthly slices over a yearly period, else at once) and what is due recognised.
    /// </summary>
    public void Settle(Payment payment, Invoice invoice, BillingPeriod? period)
    {
        var now = time.GetUtcNow();
        payment.Status = PaymentStatus.Succeeded;
        payment.SettledAt = now;
        invoice.Status = InvoiceStatus.Paid;
        invoice.PaidAt = now;
        Post(invoice.Currency, $"Payment for {invoice.Number}", $"payment:{payment.Id}",
            (Accounts.Cash, payment.Amount - payment.Fee, 0),
            (Accounts.Fees, payment.Fee, 0),
            (Accounts.TaxPayable, 0, invoice.Tax),
            (Accounts.Deferred, 0, invoice.Net));

        var slices = period == BillingPeriod.Yearly && invoice.Purpose == "subscription" && invoice.PeriodStart is not null ? 12 : 1;
        var each = invoice.Net / slices;
        for (var i = 0; i < slices; i++)
        {
            var amount = i == slices - 1 ? invoice.Net - (each * (slices - 1)) : each;
            var due = slices == 1 ? now : invoice.PeriodStart!.Value.AddMonths(i);
            var slice = new Recognition
            {
                Id = Guid.NewGuid(), InvoiceId = invoice.Id, Sequence = i + 1, DueAt = due, Amount = amount, Currency = invoice.Currency,
                TitleId = invoice.TitleId,
            };
            db.Recognitions.Add(slice);
            if (due <= now)
            {
                Recognise(slice, invoice.Purpose);
            }
        }

        db.Publish(new PaymentSucceeded(payment.Id, payment.AccountId, invoice.Id, invoice.Number, payment.Amount, payment.Currency, invoice.Purpose, now));
    }

    /// <summary>Moves a slice from deferred revenue to revenue and tells Rights (royalties) of it.</summary>
    public void Recognise(Recognition slice, string purpose)
    {
        var now = time.GetUtcNow();
        slice.RecognisedAt = now;
        Post(slice.Currency, $"Revenue recognised ({purpose})", $"recognition:{slice.Id}",
            (Accounts.Deferred, slice.Amount, 0),
            (Accounts.Revenue, 0, slice.Amount));
        db.Publish(new RevenueRecognised(slice.Id, now, MajorUnits(slice.Amount, slice.Currency), slice.Currency, slice.TitleId, SourceOf(purpose)));
    }

    /// <summary>
    /// A full refund of a paid invoice: a credit note (series CN) with negative lines; cash back, tax payable reversed,
    /// recognised revenue reversed and the rest of the deferred revenue released; later slices cancelled. The gateway's fee
    /// is not returned (it stays an expense).
    /// </summary>
    public async Task<Invoice> CreditAsync(Invoice invoice, Payment payment, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var slices = await db.Recognitions.Where(r => r.InvoiceId == invoice.Id).ToListAsync(cancellationToken);
        slices.AddRange(db.Recognitions.Local.Where(r => r.InvoiceId == invoice.Id && !slices.Contains(r))); // settled in this same unit (paid and refunded at once)
        var recognised = slices.Where(s => s.RecognisedAt != null && !s.Cancelled).Sum(s => s.Amount);
        foreach (var s in slices.Where(s => s.RecognisedAt == null))
        {
            s.Cancelled = true;
        }

        var (sequence, number) = await NextNumberAsync("CN", cancellationToken);
        var note = new Invoice
        {
            Id = Guid.NewGuid(), Series = "CN", Sequence = sequence, Number = number, Kind = InvoiceKind.CreditNote, Status = InvoiceStatus.Paid,
            AccountId = invoice.AccountId, SubscriptionId = invoice.SubscriptionId, PlanId = invoice.PlanId, TitleId = invoice.TitleId,
            Purpose = "refund", CreditsInvoiceId = invoice.Id, PeriodStart = invoice.PeriodStart, PeriodEnd = invoice.PeriodEnd,
            Currency = invoice.Currency, Country = invoice.Country, TaxRate = invoice.TaxRate, Net = -invoice.Net, Tax = -invoice.Tax,
            Total = -invoice.Total, IssuedAt = now, PaidAt = now,
        };
        note.Lines.Add(new InvoiceLine { Id = Guid.NewGuid(), InvoiceId = note.Id, Position = 1, Description = $"Credit for {invoice.Number}", Amount = -invoice.Net });
        note.Lines.Add(new InvoiceLine { Id = Guid.NewGuid(), InvoiceId = note.Id, Position = 2, IsTax = true, Amount = -invoice.Tax, Description = $"Tax {invoice.Country} {invoice.TaxRate * 100:0.##} %" });
        db.Invoices.Add(note);
        payment.Status = PaymentStatus.Refunded;
        Post(invoice.Currency, $"Refund of {invoice.Number} ({note.Number})", $"refund:{payment.Id}",
            (Accounts.TaxPayable, invoice.Tax, 0),
            (Accounts.Revenue, recognised, 0),
            (Accounts.Deferred, invoice.Net - recognised, 0),
            (Accounts.Cash, 0, invoice.Total));
        if (recognised != 0)
        {
            db.Publish(new RevenueRecognised(Guid.NewGuid(), now, -MajorUnits(recognised, invoice.Currency), invoice.Currency, invoice.TitleId, "refund"));
        }

        return note;
    }

    /// <summary>Minor to major units (two decimals, except the zero-decimal currencies ISO 4217 lists).</summary>
    public static decimal MajorUnits(long minor, string currency) => ZeroDecimal.Contains(currency) ? minor : minor / 100m;

    private static readonly HashSet<string> ZeroDecimal = new(StringComparer.OrdinalIgnoreCase) { "JPY", "KRW", "CLP", "ISK", "VND", "XAF", "XOF", "PYG", "UGX" };

    private static string SourceOf(string purpose) => purpose switch
    {
        "rental" => "rental",
        "purchase" => "purchase",
        _ => "subscription",
    };
}
