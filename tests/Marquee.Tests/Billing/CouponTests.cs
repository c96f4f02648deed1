using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Billing;
using Marquee.Billing.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Billing;

/// <summary>Coupons and promo codes at checkout and at renewal, on one host with a fake clock (DE 19 %, FR 20 % tax).</summary>
public sealed class CouponTests(BillingClockApp fixture) : IClassFixture<BillingClockApp>
{
    private MarqueeApp App => fixture.App;

    private static string Unique(string prefix) => $"{prefix}{Guid.NewGuid():N}"[..(prefix.Length + 8)];

    /// <summary>A finance client signed in now (the admin client's session expires once a test has moved the clock months).</summary>
    private Task<HttpClient> FinanceAsync() => App.ClientWithRolesAsync("finance");

    private async Task<string> CouponAsync(object body)
    {
        using var finance = await FinanceAsync();
        var created = await (await finance.PostAsJsonAsync("/api/billing/coupons", body)).JsonAsync(HttpStatusCode.Created);
        return created.GetProperty("promoCodes")[0].GetString()!;
    }

    private async Task CreatePlanAsync(string code, long eur)
    {
        using var finance = await FinanceAsync();
        (await finance.PostAsJsonAsync("/api/billing/plans", new { code, name = $"Plan {code}", period = "Monthly", prices = new Dictionary<string, long> { ["EUR"] = eur }, maxHeight = 1080, streams = 2 }))
            .EnsureSuccessStatusCode();
    }

    private async Task<HttpResponseMessage> CheckoutAsync(Viewer viewer, string plan, string promo, string country = "DE")
    {
        using var c = await viewer.ClientAsync();
        return await c.PostKeyedAsync("/api/billing/checkout", new { plan, currency = "EUR", card = SandboxGateway.Success, country, promoCode = promo }, Guid.NewGuid().ToString("N"));
    }

    private async Task AssertLedgerBalancesAsync()
    {
        var report = await App.ScopedAsync(sp => sp.GetRequiredService<LedgerVerifier>().VerifyAsync(CancellationToken.None));
        Assert.Empty(report.Problems);
    }

    [Fact]
    public async Task TwentyPercentOff_TheInvoiceHasADiscountLine_TaxOnTheDiscountedAmount_ToTheCent()
    {
        var plan = Unique("p");
        await CreatePlanAsync(plan, 999);
        var promo = await CouponAsync(new { code = Unique("c"), name = "Spring", percentOff = 20, duration = "once", plans = new[] { plan }, promoCodes = new[] { Unique("SPRING") } });
        var viewer = await App.ViewerAsync();

        // 999 - 20 % (199.8 -> 200) = 799; 19 % DE tax of 799 = 151.81 -> 152; total 951.
        var paid = await (await CheckoutAsync(viewer, plan, promo.ToLowerInvariant())).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(951, paid.GetProperty("amount").GetInt64());
        using var c = await viewer.ClientAsync();
        var invoice = (await c.GetFromJsonAsync<JsonElement>("/api/billing/invoices/mine")).EnumerateArray().Single();
        Assert.Equal((799L, 200L, 152L, 951L), (invoice.GetProperty("net").GetInt64(), invoice.GetProperty("discount").GetInt64(), invoice.GetProperty("tax").GetInt64(), invoice.GetProperty("total").GetInt64()));
        var lines = invoice.GetProperty("lines").EnumerateArray().Select(l => (l.GetProperty("description").GetString()!, l.GetProperty("amount").GetInt64())).ToList();
        Assert.Equal([999L, -200L, 152L], lines.Select(l => l.Item2));
        Assert.Equal("Discount: Spring (20 % off)", lines[1].Item1);

        // The ledger: cash 951 less the fee, tax payable 152, revenue 799 (net of the discount).
        var legs = await App.ScopedAsync(sp => sp.GetRequiredService<BillingDb>().Ledger.AsNoTracking().Where(e => e.Memo == $"Payment for {invoice.GetProperty("number").GetString()}").ToListAsync());
        Assert.Equal(152, legs.Single(l => l.Account == Accounts.TaxPayable).Credit);
        Assert.Equal(799, legs.Single(l => l.Account == Accounts.Deferred).Credit);
        await AssertLedgerBalancesAsync();

        // The code is for that plan only.
        var other = Unique("p");
        await CreatePlanAsync(other, 999);
        var refused = await CheckoutAsync(await App.ViewerAsync(), other, promo);
        Assert.Equal("Not valid for this plan", (await refused.JsonAsync(HttpStatusCode.UnprocessableEntity)).GetProperty("title").GetString());
    }

    [Fact]
    public async Task RedemptionLimits_AndExpiry_AreRefusedWithProblemDetails_AndCharge_Nothing()
    {
        var plan = Unique("p");
        await CreatePlanAsync(plan, 999);
        var once = await CouponAsync(new { code = Unique("c"), name = "One only", amountsOff = new Dictionary<string, long> { ["EUR"] = 500 }, duration = "forever", maxRedemptions = 1, promoCodes = new[] { Unique("ONE") } });
        await (await CheckoutAsync(await App.ViewerAsync(), plan, once)).JsonAsync(HttpStatusCode.Created);

        var second = await App.ViewerAsync();
        var refused = await CheckoutAsync(second, plan, once);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Redemption limit reached", (await refused.JsonAsync(HttpStatusCode.Conflict)).GetProperty("title").GetString());

        var expired = await CouponAsync(new { code = Unique("c"), name = "Old", percentOff = 10, duration = "once", expiresAt = fixture.Time!.GetUtcNow().AddMinutes(-1), promoCodes = new[] { Unique("OLD") } });
        var late = await CheckoutAsync(second, plan, expired);
        Assert.Equal("Promo code expired", (await late.JsonAsync(HttpStatusCode.UnprocessableEntity)).GetProperty("title").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await CheckoutAsync(second, plan, "NO-SUCH-CODE")).StatusCode);
        Assert.Equal(0, await App.ScopedAsync(sp => sp.GetRequiredService<BillingDb>().Payments.CountAsync(p => p.AccountId == second.Id)));

        using var finance = await FinanceAsync();
        var list = await finance.GetFromJsonAsync<JsonElement>("/api/billing/coupons");
        Assert.Equal(1, list.EnumerateArray().Single(c => c.GetProperty("promoCodes")[0].GetString() == once).GetProperty("redeemed").GetInt32());
        Assert.Equal(HttpStatusCode.BadRequest, (await finance.PostAsJsonAsync("/api/billing/coupons", new { code = Unique("c"), name = "Both", percentOff = 5, amountsOff = new { EUR = 1 }, duration = "once" })).StatusCode);
        Assert.Contains("One only", await finance.GetStringAsync("/console/billing/coupons"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARepeatingCoupon_DiscountsItsPeriods_ThenRenewalsAreChargedInFull_AndTheLedgerBalances()
    {
        var time = fixture.Time!;
        var plan = Unique("p");
        await CreatePlanAsync(plan, 1000);
        var promo = await CouponAsync(new { code = Unique("c"), name = "Half", percentOff = 50, duration = "repeating", periods = 3, promoCodes = new[] { Unique("HALF") } });
        var viewer = await App.ViewerAsync();
        await (await CheckoutAsync(viewer, plan, promo, "FR")).JsonAsync(HttpStatusCode.Created);

        var scheduler = App.Services.GetRequiredService<BillingScheduler>();
        var until = time.GetUtcNow().AddMonths(4).AddDays(2);
        while (time.GetUtcNow() < until)
        {
            time.Advance(TimeSpan.FromDays(1));
            await scheduler.RunDueAsync(CancellationToken.None);
        }

        // Periods 1-3 at 50 % (500 + 20 % FR tax = 600), renewals 3 and 4 in full (1000 + 200 = 1200).
        var totals = await App.ScopedAsync(sp => sp.GetRequiredService<BillingDb>().Invoices.AsNoTracking()
            .Where(i => i.AccountId == viewer.Id && i.Status == InvoiceStatus.Paid).OrderBy(i => i.Sequence).Select(i => i.Total).ToListAsync());
        Assert.Equal([600L, 600L, 600L, 1200L, 1200L], totals);
        await AssertLedgerBalancesAsync();
    }
}
