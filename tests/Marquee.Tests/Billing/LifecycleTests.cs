using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Billing;
using Marquee.Billing.Data;
using Marquee.Tests.Rights;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Marquee.Tests.Billing;

/// <summary>
/// A year of renewals, dunning, recovery, proration and revenue recognition, driven through the real scheduler
/// (<see cref="BillingScheduler.RunDueAsync"/>, what the worker runs) with a fake clock moved a day at a time; the
/// figures are worked by hand in the comments.
/// </summary>
public sealed class LifecycleTests(HlsStub package) : IClassFixture<HlsStub>
{
    private static readonly DateTimeOffset Start = new(2027, 1, 15, 12, 0, 0, TimeSpan.Zero);

    private static Task<T> InDbAsync<T>(MarqueeApp app, Func<BillingDb, Task<T>> read) => app.ScopedAsync(sp => read(sp.GetRequiredService<BillingDb>()));

    private static Task<int> RunAsync(MarqueeApp app) => app.Services.GetRequiredService<BillingScheduler>().RunDueAsync(CancellationToken.None);

    private static async Task<int> AdvanceToAsync(MarqueeApp app, FakeTimeProvider time, DateTimeOffset until)
    {
        var ran = 0;
        while (time.GetUtcNow() < until)
        {
            var next = time.GetUtcNow().AddDays(1);
            time.SetUtcNow(next < until ? next : until);
            ran += await RunAsync(app);
        }

        return ran;
    }

    private static async Task<Dictionary<string, long>> BalancesAsync(MarqueeApp app)
    {
        var report = await app.ScopedAsync(sp => sp.GetRequiredService<LedgerVerifier>().VerifyAsync(CancellationToken.None));
        Assert.Empty(report.Problems);
        return report.Totals.Where(t => t.Currency == "EUR").ToDictionary(t => t.Account, t => t.Balance);
    }

    private static async Task<string> StatusAsync(Viewer viewer)
    {
        using var client = await viewer.ClientAsync();
        return (await client.GetFromJsonAsync<JsonElement>("/api/billing/subscription")).GetProperty("status").GetString()!;
    }

    [Fact]
    public async Task AYear_MonthlyWithDunningAndRecovery_YearlyRecognisedMonthly_MatchTheHandWorkedFigures()
    {
        var time = new FakeTimeProvider(Start);
        await using var app = await BillingHost.StartAsync(package, time);
        await app.CreatePlanAsync("basic", "Monthly", 999);
        await app.CreatePlanAsync("annual", "Yearly", 9990);
        var title = await app.CreateTitleAsync("Subscriber film");
        var monthly = await app.ViewerAsync();
        var yearly = await app.ViewerAsync();
        using (var c = await yearly.ClientAsync())
        {
            // 9990 + 20 % FR tax = 11988; fee 25 + 1.4 % (167.83 -> 168) = 193
            await (await c.PostKeyedAsync("/api/billing/checkout", new { plan = "annual", currency = "EUR", card = SandboxGateway.Success, country = "FR" }, "y")).JsonAsync(HttpStatusCode.Created);
        }

        using (var c = await monthly.ClientAsync())
        {
            // 999 + 19 % DE tax (189.81 -> 190) = 1189; fee 25 + 1.4 % (16.65 -> 17) = 42
            await (await c.PostKeyedAsync("/api/billing/checkout", new { plan = "basic", currency = "EUR", card = SandboxGateway.Success, country = "DE" }, "m")).JsonAsync(HttpStatusCode.Created);
        }

        Assert.Equal(HttpStatusCode.Created, (await monthly.PlayAsync(title)).StatusCode);

        // Renewals on Feb 15, Mar 15, Apr 15 go through; then the card on file is declined from May on.
        await AdvanceToAsync(app, time, new DateTimeOffset(2027, 5, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(4, await InDbAsync(app, db => db.Invoices.CountAsync(i => i.AccountId == monthly.Id && i.Status == InvoiceStatus.Paid)));
        using (var c = await monthly.ClientAsync())
        {
            await (await c.PostKeyedAsync("/api/billing/subscription/payment-method", new { card = SandboxGateway.Declined }, "card-1")).JsonAsync(HttpStatusCode.OK);
        }

        // May 15 renewal fails: past due (still plays: grace); retries May 16 (+1 day), May 18 (+3), May 20 (+5) fail too.
        await AdvanceToAsync(app, time, new DateTimeOffset(2027, 5, 15, 13, 0, 0, TimeSpan.Zero));
        Assert.Equal("PastDue", await StatusAsync(monthly));
        Assert.Equal(HttpStatusCode.Created, (await monthly.PlayAsync(title)).StatusCode);
        await AdvanceToAsync(app, time, new DateTimeOffset(2027, 5, 19, 13, 0, 0, TimeSpan.Zero));
        Assert.Equal("PastDue", await StatusAsync(monthly));
        await AdvanceToAsync(app, time, new DateTimeOffset(2027, 5, 21, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal("Suspended", await StatusAsync(monthly));
        Assert.Equal(4, await InDbAsync(app, db => db.Payments.CountAsync(p => p.AccountId == monthly.Id && p.Status == PaymentStatus.Failed)));
        Assert.Equal(HttpStatusCode.Forbidden, (await monthly.PlayAsync(title)).StatusCode);

        // May 25: a good card recovers the open May invoice at once; access is back.
        await AdvanceToAsync(app, time, new DateTimeOffset(2027, 5, 25, 9, 0, 0, TimeSpan.Zero));
        using (var c = await monthly.ClientAsync())
        {
            var recovered = await (await c.PostKeyedAsync("/api/billing/subscription/payment-method", new { card = SandboxGateway.Success }, "card-2")).JsonAsync(HttpStatusCode.OK);
            Assert.Equal("succeeded", recovered.GetProperty("status").GetString());
        }

        Assert.Equal("Active", await StatusAsync(monthly));
        Assert.Equal(HttpStatusCode.Created, (await monthly.PlayAsync(title)).StatusCode);

        // Mid-year: the yearly plan's slices of 9990 / 12 = 832 (the last 838) due Jan 15 ... Jun 15 are recognised: 6 x 832.
        await AdvanceToAsync(app, time, new DateTimeOffset(2027, 7, 1, 0, 0, 0, TimeSpan.Zero));
        var mid = await BalancesAsync(app);
        Assert.Equal((6 * 999) + (6 * 832), mid["revenue"]); // monthly: Jan..Jun recognised when paid
        Assert.Equal(9990 - (6 * 832), mid["deferred-revenue"]);

        // To the day before the yearly renewal: Jun 15 ... Dec 15 renewals pay; nothing runs twice.
        var ran = await AdvanceToAsync(app, time, new DateTimeOffset(2028, 1, 15, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(0, await RunAsync(app));
        Assert.Equal(6, ran); // Jul 15 ... Dec 15

        var invoices = await InDbAsync(app, db => db.Invoices.Where(i => i.AccountId == monthly.Id).OrderBy(i => i.Sequence).ToListAsync());
        Assert.Equal(12, invoices.Count);
        Assert.All(invoices, i => Assert.Equal(InvoiceStatus.Paid, i.Status));
        Assert.All(invoices, i => Assert.Equal(1189, i.Total));
        Assert.Equal(
            Enumerable.Range(0, 12).Select(m => Start.AddMonths(m)).ToList(),
            invoices.Select(i => i.PeriodStart!.Value).ToList());
        var all = await InDbAsync(app, db => db.Invoices.Where(i => i.Series == "INV").Select(i => i.Sequence).OrderBy(n => n).ToListAsync());
        Assert.Equal(Enumerable.Range(1, 13).Select(n => (long)n), all); // gap-free: 12 monthly + 1 yearly
        Assert.Equal(11, await InDbAsync(app, db => db.Jobs.CountAsync(j => j.Kind == JobKind.Renew && j.DoneAt != null))); // Feb 15 ... Dec 15 (May failed, then recovered)
        Assert.Equal(3, await InDbAsync(app, db => db.Jobs.CountAsync(j => j.Kind == JobKind.Retry && j.DoneAt != null)));

        var end = await BalancesAsync(app);
        Assert.Equal((12 * (1189 - 42)) + (11988 - 193), end["cash"]); // 13764 + 11795
        Assert.Equal((12 * 42) + 193, end["gateway-fees"]);
        Assert.Equal((12 * 190) + 1998, end["tax-payable"]);
        Assert.Equal((12 * 999) + 9990, end["revenue"]); // all 12 yearly slices (Jan 15 ... Dec 15) recognised
        Assert.Equal(0, end["deferred-revenue"]);
        Assert.Equal(12, await InDbAsync(app, db => db.Recognitions.CountAsync(r => r.Amount == 832 || r.Amount == 838)));
    }

    [Fact]
    public async Task Upgrade_IsProratedOnce_DowngradeWaitsForRenewal_CancelEndsAtPeriodEnd()
    {
        var time = new FakeTimeProvider(Start);
        await using var app = await BillingHost.StartAsync(package, time);
        await app.CreatePlanAsync("basic", "Monthly", 999, maxHeight: 720, streams: 1);
        await app.CreatePlanAsync("premium", "Monthly", 1999, maxHeight: 2160, streams: 4);
        var title = await app.CreateTitleAsync("Subscriber film");
        var viewer = await app.ViewerAsync();
        using (var c = await viewer.ClientAsync())
        {
            await (await c.PostKeyedAsync("/api/billing/checkout", new { plan = "basic", currency = "EUR", card = SandboxGateway.Success, country = "DE" }, "c")).JsonAsync(HttpStatusCode.Created);
        }

        // Jan 30 12:00: 16 of the period's 31 days are left. Premium for them: 1999 x 16/31 = 1031.74 -> 1032; basic's
        // unused part: 999 x 16/31 = 515.61 -> 516; charged 516 + 19 % (98.04 -> 98) = 614.
        time.SetUtcNow(new DateTimeOffset(2027, 1, 30, 12, 0, 0, TimeSpan.Zero));
        using (var c = await viewer.ClientAsync())
        {
            var body = new { plan = "premium" };
            var tasks = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => c.PostKeyedAsync("/api/billing/subscription/plan", body, "up")));
            Assert.All(tasks, t => Assert.Equal(HttpStatusCode.OK, t.StatusCode));
            var up = await tasks[0].JsonAsync(HttpStatusCode.OK);
            Assert.Equal(614, up.GetProperty("amount").GetInt64());
            Assert.Equal("premium", up.GetProperty("subscription").GetProperty("plan").GetString());
            Assert.Equal(HttpStatusCode.OK, (await c.PostKeyedAsync("/api/billing/subscription/plan", new { plan = "basic" }, "down")).StatusCode);
            var sub = await c.GetFromJsonAsync<JsonElement>("/api/billing/subscription");
            Assert.Equal("premium", sub.GetProperty("plan").GetString());
            Assert.Equal("basic", sub.GetProperty("nextPlan").GetString());
        }

        Assert.Equal(1, await InDbAsync(app, db => db.Invoices.CountAsync(i => i.Purpose == "proration")));

        // Feb 15: renews on basic (1189); then cancelled at period end: plays until Mar 15 12:00, not after.
        await AdvanceToAsync(app, time, new DateTimeOffset(2027, 2, 16, 0, 0, 0, TimeSpan.Zero));
        var feb = await InDbAsync(app, db => db.Invoices.Where(i => i.Purpose == "subscription").OrderBy(i => i.Sequence).ToListAsync());
        Assert.Equal([1189, 1189], feb.Select(i => i.Total));
        using (var c = await viewer.ClientAsync())
        {
            Assert.Equal(HttpStatusCode.OK, (await c.PostAsync("/api/billing/subscription/cancel", null)).StatusCode);
        }

        time.SetUtcNow(new DateTimeOffset(2027, 3, 15, 11, 59, 0, TimeSpan.Zero));
        var before = await viewer.PlayAsync(title);
        Assert.True(before.StatusCode == HttpStatusCode.Created, await before.Content.ReadAsStringAsync());
        time.SetUtcNow(new DateTimeOffset(2027, 3, 15, 12, 0, 0, TimeSpan.Zero));
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PlayAsync(title)).StatusCode); // refused at once, before the job runs
        await RunAsync(app);
        Assert.Equal("Canceled", await StatusAsync(viewer));
        Assert.Equal(2, await InDbAsync(app, db => db.Invoices.CountAsync(i => i.Purpose == "subscription")));
        await BalancesAsync(app);
    }
}
