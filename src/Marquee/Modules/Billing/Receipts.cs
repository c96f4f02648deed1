using System.Globalization;
using System.Text;
using Marquee.Billing.Contracts;
using Marquee.Billing.Data;
using Marquee.Identity.Contracts;
using Marquee.Platform.Events;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Billing;

/// <summary>E-mails the receipt of a succeeded payment (once: the payment records when it was sent).</summary>
internal sealed class Receipts(BillingDb db, IMail mail, TimeProvider time) : IDomainEventHandler<PaymentSucceeded>
{
    public async Task HandleAsync(PaymentSucceeded domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        var payment = await db.Payments.FirstOrDefaultAsync(p => p.Id == domainEvent.PaymentId, cancellationToken);
        var customer = await db.Customers.AsNoTracking().FirstOrDefaultAsync(c => c.AccountId == domainEvent.AccountId, cancellationToken);
        if (payment is null || payment.ReceiptSentAt is not null || customer is null || string.IsNullOrEmpty(customer.Email))
        {
            return;
        }

        var invoice = await db.Invoices.AsNoTracking().Include(i => i.Lines).FirstAsync(i => i.Id == payment.InvoiceId, cancellationToken);
        await mail.SendAsync(customer.Email, $"Your Marquee receipt {invoice.Number}", Text(invoice, payment), cancellationToken);
        payment.ReceiptSentAt = time.GetUtcNow();
        await db.SaveChangesAsync(cancellationToken);

        // Erased meanwhile (R32): the eraser's clean-up of the pickup folder may have run before this receipt was written.
        // Either this read sees the e-mail blanked, or the erasure commits after it and its clean-up finds the file.
        if (!await db.Customers.AsNoTracking().AnyAsync(c => c.AccountId == domainEvent.AccountId && c.Email == customer.Email, cancellationToken))
        {
            await mail.ForgetAsync(customer.Email, cancellationToken);
        }
    }

    public static string Text(Invoice invoice, Payment payment)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Thank you for your payment. Receipt for invoice {invoice.Number}.");
        text.AppendLine();
        foreach (var line in invoice.Lines.OrderBy(l => l.Position))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{line.Description}: {Money(line.Amount, invoice.Currency)}");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"Total paid: {Money(invoice.Total, invoice.Currency)}");
        if (invoice.PeriodStart is { } s && invoice.PeriodEnd is { } e)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Period: {s.UtcDateTime:yyyy-MM-dd} to {e.UtcDateTime:yyyy-MM-dd}");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"Paid: {payment.SettledAt?.UtcDateTime:yyyy-MM-dd HH:mm} UTC, payment {payment.Id}");
        text.AppendLine();
        text.AppendLine("Your invoices and subscription: /account/billing");
        return text.ToString();
    }

    public static string Money(long minor, string currency) =>
        string.Create(CultureInfo.InvariantCulture, $"{Books.MajorUnits(minor, currency):0.00} {currency}");
}
