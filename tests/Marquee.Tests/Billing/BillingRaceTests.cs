using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Billing;
using Marquee.Billing.Data;
using Marquee.Tests.Support;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Billing;

/// <summary>
/// R7 and R8 on one host (SQLite, or PostgreSQL with <c>MARQUEE_TEST_PROVIDER=Postgres</c>): 50 concurrent copies of one
/// webhook event, events that arrive before what they refer to or newest first, a coupon with N uses under 200
/// concurrent checkouts of 200 accounts, and 200 concurrent checkouts of one account. Each test makes its own plan,
/// coupon and accounts.
/// </summary>
public sealed class BillingRaceTests(BillingRaceApp fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<BillingRaceApp>
{
    /// <summary>
    /// 200 checkouts at once queue on the invoice counter (one writer at a time); on a loaded 2-core machine the last
    /// answers took more than HttpClient's default 100 s on PostgreSQL. Correctness is the criterion here; the slowest
    /// answer is printed, and how many answers were 503 (sent again with the same key).
    /// </summary>
    public static readonly TimeSpan RaceTimeout = TimeSpan.FromMinutes(5);

    private async Task<HttpResponseMessage[]> RaceAsync(IEnumerable<Func<Task<HttpResponseMessage>>> requests)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var slowest = TimeSpan.Zero;
        var busy = 0;
        var answers = await Task.WhenAll(requests.Select(async send =>
        {
            var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            var answer = await send();

            // 503 (nothing stored: the gateway did not answer, or the last save failed for another reason than a race): a client sends the same request with the same key again, as the API says.
            for (var retry = 0; retry < 10 && answer.StatusCode == HttpStatusCode.ServiceUnavailable; retry++)
            {
                Interlocked.Increment(ref busy);
                await Task.Delay(TimeSpan.FromMilliseconds(100 << Math.Min(retry, 4)));
                answer = await send();
            }

            var took = System.Diagnostics.Stopwatch.GetElapsedTime(t0);
            lock (output)
            {
                slowest = took > slowest ? took : slowest;
            }

            return answer;
        }));
        output.WriteLine($"{answers.Length} requests in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s, slowest {slowest.TotalSeconds:0.0} s, {busy} answers 503 sent again");
        return answers;
    }

    private MarqueeApp App => fixture.App;

    private static string Unique(string prefix) => $"{prefix}{Guid.NewGuid():N}"[..(prefix.Length + 10)];

    private Task<T> InDbAsync<T>(Func<BillingDb, Task<T>> read) => App.ScopedAsync(sp => read(sp.GetRequiredService<BillingDb>()));

    private async Task<string> PlanAsync(long eur = 999)
    {
        var code = Unique("race");
        await App.CreatePlanAsync(code, "Monthly", eur);
        return code;
    }

    private static object Checkout(string plan, string card, string? promo = null) => new { plan, currency = "EUR", card, country = "DE", promoCode = promo };

    private async Task AssertVerifiedAsync()
    {
        var report = await BillingModule.VerifyAsync(App.Services, CancellationToken.None); // what `marquee billing verify` runs
        Assert.Empty(report.Problems);
    }

    private async Task<HttpResponseMessage> SendWebhookAsync(string chargeId, string eventId, string type = "charge.succeeded")
    {
        var now = App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var body = JsonSerializer.Serialize(new { id = eventId, type, created = now.ToUnixTimeSeconds(), chargeId });
        return await App.WebhookAsync(body, BillingHost.Sign(body, now));
    }

    /// <summary>Ledger transactions that booked this payment (one per effect).</summary>
    private Task<int> PostingsAsync(Guid paymentId) =>
        InDbAsync(db => db.Ledger.Where(l => l.Source == $"payment:{paymentId}").Select(l => l.TransactionId).Distinct().CountAsync());

    [Fact]
    public async Task Webhook_FiftyConcurrentCopiesOfOneEvent_AndTenOtherEventsOfTheCharge_HaveOneEffect()
    {
        var plan = await PlanAsync();
        var viewer = await App.ViewerAsync();
        using var client = await viewer.ClientAsync();
        var pending = await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(plan, SandboxGateway.ThreeDSecure), "3ds")).JsonAsync(HttpStatusCode.Accepted);
        var chargeId = pending.GetProperty("redirect").GetString()!["/billing/sandbox/3ds/".Length..];
        var paymentId = pending.GetProperty("paymentId").GetGuid();
        await App.ScopedAsync(sp => sp.GetRequiredService<SandboxGateway>().CompleteChallengeAsync(chargeId, confirmed: true, CancellationToken.None));

        // 50 copies of one event, and 10 other events about the same charge (Stripe sends payment_intent.succeeded and
        // charge.succeeded for one payment), all at once.
        var eventId = Unique("evt_");
        var copies = Enumerable.Range(0, 50).Select(_ => SendWebhookAsync(chargeId, eventId))
            .Concat(Enumerable.Range(0, 10).Select(i => SendWebhookAsync(chargeId, $"{eventId}-{i}", "payment_intent.succeeded")));
        var answers = await Task.WhenAll(copies);
        foreach (var answer in answers)
        {
            Assert.True(answer.StatusCode == HttpStatusCode.OK, $"{(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()}");
        }

        Assert.Equal(1, await InDbAsync(db => db.Webhooks.CountAsync(w => w.EventId == eventId)));
        Assert.Equal(1, await PostingsAsync(paymentId));
        Assert.Equal(1, await InDbAsync(db => db.Recognitions.CountAsync(r => r.InvoiceId == db.Payments.Single(p => p.Id == paymentId).InvoiceId)));
        Assert.Equal(PaymentStatus.Succeeded, (await InDbAsync(db => db.Payments.SingleAsync(p => p.Id == paymentId))).Status);
        Assert.Equal(SubscriptionStatus.Active, (await InDbAsync(db => db.Subscriptions.SingleAsync(s => s.AccountId == viewer.Id && s.Open))).Status);
        await AssertVerifiedAsync();
    }

    [Fact]
    public async Task Webhook_BeforeThePaymentItRefersTo_IsNotRecorded_ThenConvergesOnce()
    {
        var plan = await PlanAsync();
        var viewer = await App.ViewerAsync();

        // The gateway has the charge (made with the checkout's key) before Marquee has saved the payment: a webhook about it
        // comes first, as Stripe's can before the API answer is back.
        var chargeId = await App.ScopedAsync(async sp =>
        {
            var gateway = sp.GetRequiredService<SandboxGateway>();
            var method = await gateway.TokenizeAsync(SandboxGateway.Success, CancellationToken.None);
            return (await gateway.ChargeAsync($"checkout:{viewer.Id:N}:early", 1189, "EUR", method!, onSession: true, CancellationToken.None)).Id;
        });
        var eventId = Unique("evt_");
        var early = await SendWebhookAsync(chargeId, eventId);
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode); // "send again later": the gateway retries
        Assert.Equal(0, await InDbAsync(db => db.Webhooks.CountAsync(w => w.EventId == eventId)));

        using var client = await viewer.ClientAsync();
        var paid = await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(plan, SandboxGateway.Success), "early")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("Active", paid.GetProperty("subscription").GetProperty("status").GetString());
        var paymentId = paid.GetProperty("paymentId").GetGuid();
        Assert.Equal(chargeId, (await InDbAsync(db => db.Payments.SingleAsync(p => p.Id == paymentId))).GatewayRef);

        // The retried event now finds its payment: recorded, no second effect.
        Assert.Equal(HttpStatusCode.OK, (await SendWebhookAsync(chargeId, eventId)).StatusCode);
        Assert.Equal(1, await InDbAsync(db => db.Webhooks.CountAsync(w => w.EventId == eventId)));
        Assert.Equal(1, await PostingsAsync(paymentId));
        Assert.Equal(1, await InDbAsync(db => db.SandboxCharges.CountAsync(c => c.IdempotencyKey == $"checkout:{viewer.Id:N}:early")));
        await AssertVerifiedAsync();
    }

    [Fact]
    public async Task Webhooks_NewestFirst_RefundedBeforeSucceeded_ConvergeToPaidThenRefunded()
    {
        var plan = await PlanAsync();
        var viewer = await App.ViewerAsync();
        using var client = await viewer.ClientAsync();
        var pending = await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(plan, SandboxGateway.ThreeDSecure), "3ds")).JsonAsync(HttpStatusCode.Accepted);
        var chargeId = pending.GetProperty("redirect").GetString()!["/billing/sandbox/3ds/".Length..];
        var paymentId = pending.GetProperty("paymentId").GetGuid();

        // At the gateway the payer confirms, then the charge is refunded (from the gateway's dashboard) before Marquee heard
        // of either: the refund's event comes first.
        await App.ScopedAsync(async sp =>
        {
            var gateway = sp.GetRequiredService<SandboxGateway>();
            await gateway.CompleteChallengeAsync(chargeId, confirmed: true, CancellationToken.None);
            return await gateway.RefundAsync(chargeId, CancellationToken.None);
        });
        Assert.Equal(HttpStatusCode.OK, (await SendWebhookAsync(chargeId, Unique("evt_"), "charge.refunded")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendWebhookAsync(chargeId, Unique("evt_"), "charge.succeeded")).StatusCode);

        var payment = await InDbAsync(db => db.Payments.SingleAsync(p => p.Id == paymentId));
        Assert.Equal(PaymentStatus.Refunded, payment.Status);
        Assert.Equal(1, await PostingsAsync(paymentId));
        Assert.Equal(1, await InDbAsync(db => db.Ledger.Where(l => l.Source == $"refund:{paymentId}").Select(l => l.TransactionId).Distinct().CountAsync()));
        Assert.Equal(1, await InDbAsync(db => db.Invoices.CountAsync(i => i.AccountId == viewer.Id && i.Kind == InvoiceKind.CreditNote)));
        Assert.False(await InDbAsync(db => db.Subscriptions.AnyAsync(s => s.AccountId == viewer.Id && s.Open)));
        await AssertVerifiedAsync();
    }

    [Fact]
    public async Task Coupon_WithFiveUses_Under200ConcurrentCheckoutsOf200Accounts_IsRedeemedExactlyFiveTimes()
    {
        const int uses = 5;
        var plan = await PlanAsync();
        var promo = Unique("RACE").ToUpperInvariant(); // promo codes are kept upper case
        using (var finance = await App.ClientWithRolesAsync("finance"))
        {
            await (await finance.PostAsJsonAsync("/api/billing/coupons", new { code = Unique("c"), name = "Race", percentOff = 50, duration = "once", maxRedemptions = uses, promoCodes = new[] { promo } }))
                .JsonAsync(HttpStatusCode.Created);
        }

        var setup = System.Diagnostics.Stopwatch.GetTimestamp();
        var clients = await fixture.ViewersAsync(200);
        output.WriteLine($"200 accounts signed in in {System.Diagnostics.Stopwatch.GetElapsedTime(setup).TotalSeconds:0.0} s");
        var answers = await RaceAsync(clients.Select(c => (Func<Task<HttpResponseMessage>>)(() => c.Client.PostKeyedAsync("/api/billing/checkout", Checkout(plan, SandboxGateway.Success, promo), "coupon"))));
        var statuses = new List<HttpStatusCode>();
        foreach (var answer in answers)
        {
            Assert.True(answer.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"{(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()}");
            statuses.Add(answer.StatusCode);
        }

        var accounts = clients.Select(c => c.Id).ToList();
        Assert.Equal(uses, statuses.Count(s => s == HttpStatusCode.Created));
        Assert.Equal(uses, await InDbAsync(db => db.Coupons.Where(c => db.PromoCodes.Any(p => p.Code == promo && p.CouponId == c.Id)).Select(c => c.Redeemed).SingleAsync()));
        Assert.Equal(uses, await InDbAsync(db => db.CouponRedemptions.CountAsync(r => r.PromoCode == promo)));
        Assert.Equal(uses, await InDbAsync(db => db.Subscriptions.CountAsync(s => accounts.Contains(s.AccountId) && s.Open && s.Status == SubscriptionStatus.Active)));
        Assert.Equal(uses, await InDbAsync(db => db.Payments.CountAsync(p => accounts.Contains(p.AccountId) && p.Status == PaymentStatus.Succeeded)));

        // Money kept at the gateway: exactly the five discounted charges (a charge made for a request that lost the race is refunded).
        var keys = accounts.Select(a => $"checkout:{a:N}:coupon").ToList();
        var kept = await InDbAsync(db => db.SandboxCharges.CountAsync(c => keys.Contains(c.IdempotencyKey) && c.Status == SandboxChargeStatus.Succeeded));
        output.WriteLine($"charges kept at the gateway: {kept} (expected {uses})");
        Assert.Equal(uses, kept);

        output.WriteLine($"charged then refunded (lost the race after charging): {await InDbAsync(db => db.SandboxCharges.CountAsync(c => keys.Contains(c.IdempotencyKey) && c.Status == SandboxChargeStatus.Refunded))}");
        await AssertVerifiedAsync();
    }

    [Fact]
    public async Task OneAccount_200ConcurrentCheckouts_OneActiveSubscription_OneCharge()
    {
        var plan = await PlanAsync();
        var viewer = await App.ViewerAsync();
        using var client = await viewer.ClientAsync();
        client.Timeout = RaceTimeout;
        var answers = await RaceAsync(Enumerable.Range(0, 200).Select(i => (Func<Task<HttpResponseMessage>>)(() => client.PostKeyedAsync("/api/billing/checkout", Checkout(plan, SandboxGateway.Success), $"one-{i}"))));
        var statuses = new List<HttpStatusCode>();
        foreach (var answer in answers)
        {
            Assert.True(answer.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"{(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()}");
            statuses.Add(answer.StatusCode);
        }

        Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.Created));
        Assert.Equal(1, await InDbAsync(db => db.Subscriptions.CountAsync(s => s.AccountId == viewer.Id && s.Open && s.Status == SubscriptionStatus.Active)));
        Assert.Equal(1, await InDbAsync(db => db.Payments.CountAsync(p => p.AccountId == viewer.Id && p.Status == PaymentStatus.Succeeded)));
        var prefix = $"checkout:{viewer.Id:N}:";
        Assert.Equal(1, await InDbAsync(db => db.SandboxCharges.CountAsync(c => c.IdempotencyKey.StartsWith(prefix) && c.Status == SandboxChargeStatus.Succeeded)));
        output.WriteLine($"charged then refunded (lost the race after charging): {await InDbAsync(db => db.SandboxCharges.CountAsync(c => c.IdempotencyKey.StartsWith(prefix) && c.Status == SandboxChargeStatus.Refunded))}");
        await AssertVerifiedAsync();
    }
}

/// <summary>
/// The race tests' host: the real clock, web role only (the tests deliver webhooks themselves), the fraud check off (200
/// checkouts from one address are a velocity signal, not the subject here), and a cheap password hash so that 200 accounts
/// sign in quickly (test only).
/// </summary>
public sealed class BillingRaceApp : IAsyncLifetime
{
    private MarqueeApp? app;

    public MarqueeApp App => app ?? throw new InvalidOperationException("The host has not started.");

    public async Task InitializeAsync() =>
        app = await MarqueeApp.StartAsync(
            c =>
            {
                c["Marquee:Roles"] = "web";
                c["Marquee:Billing:TaxRates:DE"] = "0.19";
                c["Marquee:Billing:Sandbox:WebhookSecret"] = BillingHost.Secret;
                c["Marquee:Billing:Fraud:Enabled"] = "false";
            },
            services => services.Configure<PasswordHasherOptions>(o => o.IterationCount = 1000));

    /// <summary>Signed-in viewers, made a few at a time.</summary>
    public async Task<IReadOnlyList<(Guid Id, HttpClient Client)>> ViewersAsync(int count)
    {
        var made = new List<(Guid, HttpClient)>();
        foreach (var batch in Enumerable.Range(0, count).Chunk(10))
        {
            var accounts = await Task.WhenAll(batch.Select(_ => App.AccountWithRolesAsync()));
            foreach (var (id, cookie) in accounts)
            {
                var client = App.ClientWith(cookie);
                client.Timeout = BillingRaceTests.RaceTimeout;
                made.Add((id, client));
            }
        }

        return made;
    }

    public async Task DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }
    }
}
