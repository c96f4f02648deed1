using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Billing.Data;
using Marquee.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Billing;

/// <summary>
/// The revenue KPIs (K4) of March 2001 from a hand-made set of invoices (in a year no other test touches), each figure as
/// worked out by hand in the comments.
/// </summary>
public sealed class RevenueKpiTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private static readonly DateTimeOffset Mar1 = new(2001, 3, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Kpis_OfAHandWorkedMonth_AreAsComputedByHand()
    {
        var app = shared.App;
        Guid a = Guid.NewGuid(), b = Guid.NewGuid(), c = Guid.NewGuid(), d = Guid.NewGuid(), e = Guid.NewGuid();
        Guid sa = Guid.NewGuid(), sb = Guid.NewGuid(), sc = Guid.NewGuid(), se = Guid.NewGuid();
        var seq = 0;
        Invoice Inv(Guid account, string purpose, string currency, long net, DateTimeOffset paid, Guid? sub = null, DateTimeOffset? start = null, DateTimeOffset? end = null,
            InvoiceKind kind = InvoiceKind.Invoice, InvoiceStatus status = InvoiceStatus.Paid, Guid? credits = null)
        {
            seq++;
            return new Invoice
            {
                Id = Guid.NewGuid(), Series = "KPI", Sequence = seq, Number = $"KPI-{seq:D6}", Kind = kind, Status = status, AccountId = account, SubscriptionId = sub,
                Purpose = purpose, CreditsInvoiceId = credits, PeriodStart = start, PeriodEnd = end, Currency = currency, Country = "DE", Net = net, Tax = 0, Total = net,
                IssuedAt = paid, PaidAt = status == InvoiceStatus.Paid ? paid : null,
            };
        }

        // A: February paid (before the window; its period ends on 1 March, in it) and renewed for March (1000 EUR SVOD).
        var a1 = Inv(a, "subscription", "EUR", 1000, Mar1.AddMonths(-1), sa, Mar1.AddMonths(-1), Mar1);
        var a2 = Inv(a, "subscription", "EUR", 1000, Mar1, sa, Mar1, Mar1.AddMonths(1));
        // B: 10 Feb to 10 Mar, not renewed (a paying subscriber of March all the same); rents a title on 5 March (300 EUR TVOD).
        var b1 = Inv(b, "subscription", "EUR", 1000, Mar1.AddDays(-19), sb, Mar1.AddDays(-19), Mar1.AddDays(9));
        var b2 = Inv(b, "rental", "EUR", 300, Mar1.AddDays(4));
        // C: subscribes on 15 March in USD (1200), refunded on 20 March (credit note -1200): not paying; buys a title (999 USD TVOD).
        var c1 = Inv(c, "subscription", "USD", 1200, Mar1.AddDays(14), sc, Mar1.AddDays(14), Mar1.AddDays(45));
        var c2 = Inv(c, "refund", "USD", -1200, Mar1.AddDays(19), sc, Mar1.AddDays(14), Mar1.AddDays(45), InvoiceKind.CreditNote, credits: c1.Id);
        var c3 = Inv(c, "purchase", "USD", 999, Mar1.AddDays(15));
        // D: a purchase in the last hour of March (500 EUR) and one at midnight on 1 April (outside).
        var d1 = Inv(d, "purchase", "EUR", 500, Mar1.AddMonths(1).AddHours(-1));
        var d2 = Inv(d, "purchase", "EUR", 700, Mar1.AddMonths(1));
        // E: an open (unpaid) subscription invoice: nothing.
        var e1 = Inv(e, "subscription", "EUR", 1000, Mar1.AddDays(19), se, Mar1.AddDays(19), Mar1.AddDays(50), status: InvoiceStatus.Open);
        await app.ScopedAsync(async sp =>
        {
            var db = sp.GetRequiredService<BillingDb>();
            db.Invoices.AddRange(a1, a2, b1, b2, c1, c2, c3, d1, d2, e1);
            return await db.SaveChangesAsync();
        });

        using var finance = await app.ClientWithRolesAsync("finance");
        var kpis = await finance.GetFromJsonAsync<JsonElement>("/api/billing/kpis?from=2001-03-01T00:00:00Z&to=2001-04-01T00:00:00Z");

        Assert.Equal(2, kpis.GetProperty("payingSubscribers").GetInt32()); // A and B (C refunded, E unpaid)
        Assert.Equal(2, kpis.GetProperty("renewalsDue").GetInt32()); // A's February period (ends 1 March), B's (ends 10 March)
        Assert.Equal(1, kpis.GetProperty("renewed").GetInt32()); // A's
        Assert.Equal(0.5m, kpis.GetProperty("renewalRate").GetDecimal());
        var byCurrency = kpis.GetProperty("currencies").EnumerateArray().ToDictionary(x => x.GetProperty("currency").GetString()!);
        Assert.Equal(["EUR", "USD"], byCurrency.Keys.Order(StringComparer.Ordinal));

        var eur = byCurrency["EUR"];
        Assert.Equal(2, eur.GetProperty("payingSubscribers").GetInt32());
        Assert.Equal(3, eur.GetProperty("payingAccounts").GetInt32()); // A, B, D
        Assert.Equal(1000, eur.GetProperty("svod").GetInt64()); // A2
        Assert.Equal(800, eur.GetProperty("tvod").GetInt64()); // B2 300 + D1 500
        Assert.Equal(JsonValueKind.Null, eur.GetProperty("avod").ValueKind); // no ad revenue source: no made-up figure
        Assert.Equal("no ad revenue source yet", kpis.GetProperty("avodNote").GetString());
        Assert.Equal(1800, eur.GetProperty("total").GetInt64());
        Assert.Equal(600, eur.GetProperty("arpu").GetInt64()); // 1800 / 3

        var usd = byCurrency["USD"];
        Assert.Equal(0, usd.GetProperty("payingSubscribers").GetInt32());
        Assert.Equal(1, usd.GetProperty("payingAccounts").GetInt32());
        Assert.Equal(0, usd.GetProperty("svod").GetInt64()); // 1200 - 1200
        Assert.Equal(999, usd.GetProperty("tvod").GetInt64());
        Assert.Equal(999, usd.GetProperty("arpu").GetInt64());

        // The console page shows the same figures; the lists page the invoices.
        var page = await finance.GetStringAsync("/console/billing/revenue?from=2001-03-01&to=2001-04-01");
        Assert.Contains("50 % (1 of 2)", page, StringComparison.Ordinal);
        Assert.Contains("18.00 EUR", page, StringComparison.Ordinal);
        Assert.Contains("no ad revenue source yet", page, StringComparison.Ordinal);
        Assert.Contains("KPI-000001", await finance.GetStringAsync("/console/billing/list/invoices?page=1"), StringComparison.Ordinal);
        Assert.Contains("KPI-000006", await finance.GetStringAsync("/console/billing/list/refunds"), StringComparison.Ordinal);
        var unknown = await finance.GetAsync("/console/billing/list/no-such-list"); // the not-found page (it answered 500 before)
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("Page not found", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var viewer = await app.ClientWithRolesAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync("/api/billing/kpis")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await finance.GetAsync("/api/billing/kpis?from=2001-04-01T00:00:00Z&to=2001-03-01T00:00:00Z")).StatusCode);
    }
}
