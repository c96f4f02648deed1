using Marquee.Billing.Data;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Billing;

/// <summary>
/// Revenue of one currency in a period, in minor units net of tax (K4). <see cref="Avod"/> is null: no module books ad
/// revenue yet (plans with ads earn none in Billing; see <see cref="KpiReport.AvodNote"/>), so no figure is made up.
/// </summary>
internal sealed record CurrencyKpis(string Currency, int PayingSubscribers, int PayingAccounts, long Svod, long? Avod, long Tvod, long Total, long? Arpu);

/// <summary>
/// The revenue KPIs (K4) of [From, To): see <see cref="RevenueKpis"/> for the definitions. <see cref="RenewalRate"/> is null
/// when no period ended in the window.
/// </summary>
/// <param name="AvodNote">Why AVOD revenue has no figure: there is no ad revenue source yet (no ads module, no ad server).</param>
internal sealed record KpiReport(DateTimeOffset From, DateTimeOffset To, int PayingSubscribers, int RenewalsDue, int Renewed, decimal? RenewalRate, IReadOnlyList<CurrencyKpis> Currencies,
    string AvodNote = RevenueKpis.NoAdRevenue);

/// <summary>
/// K4 from Billing's own tables (invoices and credit notes), for [from, to):
/// <list type="bullet">
/// <item><b>Revenue by model</b>, per currency, net of tax: invoices paid in the window minus credit notes issued in it;
/// SVOD = subscription and proration invoices (plans with ads that cost something included), TVOD = rentals and
/// purchases, AVOD = advertising: null, with <see cref="NoAdRevenue"/>, until an ads module books ad revenue.</item>
/// <item><b>Paying subscribers</b>: accounts with a paid, not refunded subscription invoice whose period overlaps the
/// window (trials are not paying).</item>
/// <item><b>ARPU</b>, per currency: that currency's revenue ÷ accounts that paid anything in it in the window
/// (subscribers and TVOD buyers), rounded half away from zero; null when none paid.</item>
/// <item><b>Renewal rate</b>: of the paid subscription periods that ended in the window (and before now), the share whose
/// subscription has a paid invoice for the period that starts where it ended.</item>
/// </list>
/// </summary>
internal sealed class RevenueKpis(BillingDb db, TimeProvider time)
{
    public static readonly string[] Svod = ["subscription", "proration"];
    public static readonly string[] Tvod = ["rental", "purchase"];

    public const string NoAdRevenue = "no ad revenue source yet";

    public async Task<KpiReport> ComputeAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var paid = await db.Invoices.AsNoTracking()
            .Where(i => i.Kind == InvoiceKind.Invoice && i.Status == InvoiceStatus.Paid && i.PaidAt >= from && i.PaidAt < to)
            .Select(i => new { i.AccountId, i.Currency, i.Purpose, i.Net })
            .ToListAsync(cancellationToken);
        var notes = await db.Invoices.AsNoTracking()
            .Where(i => i.Kind == InvoiceKind.CreditNote && i.IssuedAt >= from && i.IssuedAt < to)
            .Join(db.Invoices, n => n.CreditsInvoiceId, i => i.Id, (n, i) => new { n.Currency, i.Purpose, n.Net })
            .ToListAsync(cancellationToken);

        // Subscription invoices that paid for a period overlapping the window, and the ones credited since.
        var periods = await db.Invoices.AsNoTracking()
            .Where(i => i.Kind == InvoiceKind.Invoice && i.Status == InvoiceStatus.Paid && i.Purpose == "subscription" && i.PeriodStart < to && i.PeriodEnd > from)
            .Select(i => new { i.Id, i.AccountId, i.SubscriptionId, i.Currency, i.PeriodStart, i.PeriodEnd })
            .ToListAsync(cancellationToken);
        var ids = periods.Select(p => (Guid?)p.Id).ToList();
        var credited = (await db.Invoices.AsNoTracking().Where(n => n.Kind == InvoiceKind.CreditNote && ids.Contains(n.CreditsInvoiceId)).Select(n => n.CreditsInvoiceId).ToListAsync(cancellationToken))
            .ToHashSet();
        var paying = periods.Where(p => !credited.Contains(p.Id)).ToList();

        // Renewals: periods that ended in the window (and before now); renewed when the next period was paid.
        var ended = await db.Invoices.AsNoTracking()
            .Where(i => i.Kind == InvoiceKind.Invoice && i.Status == InvoiceStatus.Paid && i.Purpose == "subscription" && i.PeriodEnd >= from && i.PeriodEnd < to && i.PeriodEnd <= now)
            .Select(i => new { i.SubscriptionId, i.PeriodEnd })
            .ToListAsync(cancellationToken);
        var subs = ended.Select(p => p.SubscriptionId).Distinct().ToList();
        var next = (await db.Invoices.AsNoTracking()
                .Where(i => i.Kind == InvoiceKind.Invoice && i.Status == InvoiceStatus.Paid && i.Purpose == "subscription" && subs.Contains(i.SubscriptionId))
                .Select(i => new { i.SubscriptionId, i.PeriodStart })
                .ToListAsync(cancellationToken))
            .Select(i => (i.SubscriptionId, i.PeriodStart)).ToHashSet();
        var renewed = ended.Count(p => next.Contains((p.SubscriptionId, p.PeriodEnd)));

        var currencies = paid.Select(p => p.Currency).Concat(notes.Select(n => n.Currency)).Concat(paying.Select(p => p.Currency))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var rows = new List<CurrencyKpis>();
        foreach (var c in currencies)
        {
            long Sum(string[] purposes) =>
                paid.Where(p => p.Currency == c && purposes.Contains(p.Purpose)).Sum(p => p.Net)
                + notes.Where(n => n.Currency == c && purposes.Contains(n.Purpose)).Sum(n => n.Net); // credit notes are negative
            var svod = Sum(Svod);
            var tvod = Sum(Tvod);
            var total = svod + tvod; // AVOD: no ad revenue source yet
            var accounts = paid.Where(p => p.Currency == c).Select(p => p.AccountId).Distinct().Count();
            long? arpu = accounts == 0 ? null : (long)Math.Round(total / (decimal)accounts, MidpointRounding.AwayFromZero);
            rows.Add(new CurrencyKpis(c, paying.Where(p => p.Currency == c).Select(p => p.AccountId).Distinct().Count(), accounts, svod, null, tvod, total, arpu));
        }

        return new KpiReport(from, to, paying.Select(p => p.AccountId).Distinct().Count(), ended.Count, renewed,
            ended.Count == 0 ? null : Math.Round(renewed / (decimal)ended.Count, 4, MidpointRounding.AwayFromZero), rows);
    }

    /// <summary>The window a request names, or the last 30 days.</summary>
    public (DateTimeOffset From, DateTimeOffset To) Window(DateTimeOffset? from, DateTimeOffset? to)
    {
        var end = to ?? time.GetUtcNow();
        return (from ?? end.AddDays(-30), end);
    }

    public static void Map(IEndpointRouteBuilder finance)
    {
        finance.MapGet("/kpis", async Task<Results<Ok<KpiReport>, ProblemHttpResult>> (DateTimeOffset? from, DateTimeOffset? to, RevenueKpis kpis, CancellationToken ct) =>
            {
                var (f, t) = kpis.Window(from, to);
                if (t <= f || t - f > TimeSpan.FromDays(3660))
                {
                    return TypedResults.Problem(title: "Bad period", detail: "'to' must be after 'from', at most ten years later.", statusCode: 400);
                }

                return TypedResults.Ok(await kpis.ComputeAsync(f, t, ct));
            })
            .WithName("BillingKpis")
            .WithSummary("Revenue KPIs (K4) of [from, to) (default: the last 30 days): paying subscribers, renewal rate, and per currency SVOD/TVOD revenue net of tax and ARPU; AVOD is null with avodNote 'no ad revenue source yet', in minor units (finance).");

        finance.MapGet("/subscribers", async (int? page, BillingLists lists, CancellationToken ct) => TypedResults.Ok(await lists.SubscribersAsync(page ?? 1, null, ct)))
            .WithName("ListSubscribers")
            .WithSummary("Subscriptions, newest first, 50 a page (finance).");

        finance.MapGet("/payments", async (int? page, BillingLists lists, CancellationToken ct) => TypedResults.Ok(await lists.PaymentsAsync(page ?? 1, ct)))
            .WithName("ListPayments")
            .WithSummary("Payments, newest first, 50 a page (finance).");
    }
}

internal sealed record Page<T>(int Number, int Pages, int Total, IReadOnlyList<T> Items);

internal sealed record SubscriberRow(Guid Id, DateTimeOffset CreatedAt, Guid AccountId, string Email, string Plan, string Status, string Currency, DateTimeOffset CurrentPeriodEnd, bool CancelAtPeriodEnd, int FailedAttempts, DateTimeOffset? PastDueSince);

internal sealed record PaymentRow(Guid Id, DateTimeOffset CreatedAt, Guid AccountId, string Email, string InvoiceNumber, string Purpose, string Status, long Amount, long Fee, string Currency, string GatewayRef, string? Failure);

internal sealed record InvoiceRow(Guid Id, string Number, string Kind, string Status, string Purpose, DateTimeOffset IssuedAt, string Email, long Net, long Tax, long Total, string Currency);

/// <summary>The console's lists (subscribers, payments, invoices, dunning, refunds), newest first, a page at a time.</summary>
internal sealed class BillingLists(BillingDb db)
{
    public const int Size = 50;

    public async Task<Page<SubscriberRow>> SubscribersAsync(int page, SubscriptionStatus[]? only, CancellationToken ct)
    {
        var q = db.Subscriptions.AsNoTracking().Where(s => only == null || only.Contains(s.Status));
        var total = await q.CountAsync(ct);
        var number = Clamp(page, total);
        var rows = await q.OrderByDescending(s => s.CreatedAt).ThenBy(s => s.Id).Skip((number - 1) * Size).Take(Size)
            .Join(db.Plans, s => s.PlanId, p => p.Id, (s, p) => new { s, p.Name })
            .GroupJoin(db.Customers, x => x.s.AccountId, c => c.AccountId, (x, c) => new { x.s, x.Name, c })
            .SelectMany(x => x.c.DefaultIfEmpty(), (x, c) => new SubscriberRow(x.s.Id, x.s.CreatedAt, x.s.AccountId, c == null ? "" : c.Email, x.Name, x.s.Status.ToString(), x.s.Currency,
                x.s.CurrentPeriodEnd, x.s.CancelAtPeriodEnd, x.s.FailedAttempts, x.s.PastDueSince))
            .ToListAsync(ct);
        return new Page<SubscriberRow>(number, Pages(total), total, [.. rows.OrderByDescending(r => r.CreatedAt)]);
    }

    public async Task<Page<PaymentRow>> PaymentsAsync(int page, CancellationToken ct)
    {
        var total = await db.Payments.CountAsync(ct);
        var number = Clamp(page, total);
        var rows = await db.Payments.AsNoTracking().OrderByDescending(p => p.CreatedAt).ThenBy(p => p.Id).Skip((number - 1) * Size).Take(Size)
            .Join(db.Invoices, p => p.InvoiceId, i => i.Id, (p, i) => new { p, i.Number, i.Purpose })
            .GroupJoin(db.Customers, x => x.p.AccountId, c => c.AccountId, (x, c) => new { x.p, x.Number, x.Purpose, c })
            .SelectMany(x => x.c.DefaultIfEmpty(), (x, c) => new PaymentRow(x.p.Id, x.p.CreatedAt, x.p.AccountId, c == null ? "" : c.Email, x.Number, x.Purpose,
                x.p.Status.ToString(), x.p.Amount, x.p.Fee, x.p.Currency, x.p.GatewayRef, x.p.Failure))
            .ToListAsync(ct);
        return new Page<PaymentRow>(number, Pages(total), total, [.. rows.OrderByDescending(r => r.CreatedAt)]);
    }

    /// <summary>Invoices, or credit notes only (<paramref name="refunds"/>: the refunds list).</summary>
    public async Task<Page<InvoiceRow>> InvoicesAsync(int page, bool refunds, CancellationToken ct)
    {
        var kind = refunds ? InvoiceKind.CreditNote : InvoiceKind.Invoice;
        var q = db.Invoices.AsNoTracking().Where(i => i.Kind == kind);
        var total = await q.CountAsync(ct);
        var number = Clamp(page, total);
        var rows = await q.OrderByDescending(i => i.Sequence).Skip((number - 1) * Size).Take(Size)
            .GroupJoin(db.Customers, i => i.AccountId, c => c.AccountId, (i, c) => new { i, c })
            .SelectMany(x => x.c.DefaultIfEmpty(), (x, c) => new InvoiceRow(x.i.Id, x.i.Number, x.i.Kind.ToString(), x.i.Status.ToString(), x.i.Purpose, x.i.IssuedAt,
                c == null ? "" : c.Email, x.i.Net, x.i.Tax, x.i.Total, x.i.Currency))
            .ToListAsync(ct);
        return new Page<InvoiceRow>(number, Pages(total), total, [.. rows.OrderByDescending(r => r.Number, StringComparer.Ordinal)]);
    }

    private static int Pages(int total) => Math.Max(1, (total + Size - 1) / Size);

    private static int Clamp(int page, int total) => Math.Clamp(page, 1, Pages(total));
}
