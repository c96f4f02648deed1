using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Billing;
using Marquee.Billing.Data;
using Marquee.Tests.Rights;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Marquee.Tests.Billing;

/// <summary>
/// Free with ads (AVOD) on one shared host (fake clock, entitlements required): plan validation, a checkout with no card
/// and no charge, renewals that roll without an invoice, playback with ads (and without for paid plans and rentals), the
/// upgrade to a paid plan through the checkout at full price, and the ledger verification (<c>marquee billing verify</c>'s code).
/// Each test makes its own plans (unique codes) and viewers; the clock only moves forward.
/// </summary>
public sealed class AvodTests(AvodApp fixture) : IClassFixture<AvodApp>
{
    private MarqueeApp App => fixture.App;

    private static string Code(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    private Task<T> InDbAsync<T>(Func<BillingDb, Task<T>> read) => App.ScopedAsync(sp => read(sp.GetRequiredService<BillingDb>()));

    private async Task<string> FreePlanAsync(int streams = 2)
    {
        var code = Code("free");
        using var finance = await App.ClientWithRolesAsync("finance");
        var created = await (await finance.PostAsJsonAsync("/api/billing/plans", new
        {
            code, name = "Free with ads", period = "Monthly", prices = new Dictionary<string, long> { ["EUR"] = 0, ["USD"] = 0 }, maxHeight = 720, streams, withAds = true,
        })).JsonAsync(HttpStatusCode.Created);
        Assert.True(created.GetProperty("withAds").GetBoolean());
        Assert.True(created.GetProperty("free").GetBoolean());
        return code;
    }

    /// <summary>A title, made by an operator signed in now (the shared clock may have moved past the admin client's cookie).</summary>
    private async Task<Guid> TitleAsync(string name)
    {
        using var content = await App.ClientWithRolesAsync("content");
        return (await (await content.PostAsJsonAsync("/api/catalog/titles", new { name, kind = "Film" })).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
    }

    private async Task<JsonElement> PlayAsync(HttpClient client, Guid title) =>
        await (await client.PostAsJsonAsync("/api/playback/sessions", new { titleId = title })).JsonAsync(HttpStatusCode.Created);

    private static string Error(JsonElement problem, string member) =>
        problem.GetProperty("errors").EnumerateObject().Single(e => e.Name.Equals(member, StringComparison.OrdinalIgnoreCase)).Value[0].GetString()!;

    private async Task AssertVerifiedAsync()
    {
        var report = await BillingModule.VerifyAsync(App.Services, CancellationToken.None); // what `marquee billing verify` runs
        Assert.Empty(report.Problems);
    }

    [Fact]
    public async Task Plans_ZeroPriceOnlyWithAds_NoTrialWhenFree_ShownOnThePlansAndConsolePages()
    {
        using var finance = await App.ClientWithRolesAsync("finance");
        var noAds = await finance.PostAsJsonAsync("/api/billing/plans", new { code = Code("zero"), name = "Zero", period = "Monthly", prices = new { EUR = 0 } });
        Assert.Equal(HttpStatusCode.BadRequest, noAds.StatusCode);
        Assert.Equal("application/problem+json", noAds.Content.Headers.ContentType?.MediaType);
        Assert.Contains("only a plan with ads", Error(await noAds.Content.ReadFromJsonAsync<JsonElement>(), "Prices"), StringComparison.Ordinal);

        var trial = await finance.PostAsJsonAsync("/api/billing/plans", new { code = Code("trial"), name = "Trial", period = "Monthly", prices = new { EUR = 0 }, trialDays = 7, withAds = true });
        Assert.Equal(HttpStatusCode.BadRequest, trial.StatusCode);
        Assert.Contains("no trial", Error(await trial.Content.ReadFromJsonAsync<JsonElement>(), "TrialDays"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await finance.PostAsJsonAsync("/api/billing/plans", new { code = Code("neg"), name = "Neg", period = "Monthly", prices = new { EUR = -1 }, withAds = true })).StatusCode);

        var paidWithAds = await (await finance.PostAsJsonAsync("/api/billing/plans", new { code = Code("lite"), name = "Lite with ads", period = "Monthly", prices = new { EUR = 499 }, withAds = true }))
            .JsonAsync(HttpStatusCode.Created);
        Assert.True(paidWithAds.GetProperty("withAds").GetBoolean());
        Assert.False(paidWithAds.GetProperty("free").GetBoolean());

        var free = await FreePlanAsync();
        var listed = (await App.AnonymousClient.GetFromJsonAsync<JsonElement>("/api/billing/plans")).EnumerateArray().Single(p => p.GetProperty("code").GetString() == free);
        Assert.True(listed.GetProperty("withAds").GetBoolean());
        Assert.Equal(0, listed.GetProperty("prices").GetProperty("EUR").GetInt64());
        Assert.Contains("Free, with ads", await App.AnonymousClient.GetStringAsync("/plans"), StringComparison.Ordinal);
        Assert.Contains("free with ads", await finance.GetStringAsync("/console/billing"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FreeCheckout_TakesNoCardAndChargesNothing_PlaysWithAds_RenewsWithoutAnInvoice_RentalsWithoutAds()
    {
        var free = await FreePlanAsync();
        var title = await TitleAsync("Ad-supported film");
        var rental = await TitleAsync("Rented film");
        using var finance = await App.ClientWithRolesAsync("finance");
        (await finance.PutAsJsonAsync($"/api/billing/titles/{rental}/offer", new { free = false, currency = "EUR", rentalPrice = 399 })).EnsureSuccessStatusCode();
        var viewer = await App.ViewerAsync();
        var charges = await InDbAsync(db => db.SandboxCharges.CountAsync());

        // Refused before: the title needs an entitlement.
        Assert.Equal(Entitlements.NeedsEntitlement, await (await viewer.PlayAsync(title)).RefusalAsync());

        using var client = await viewer.ClientAsync();
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await client.PostKeyedAsync("/api/billing/checkout", new { plan = free, currency = "EUR", country = "DE", promoCode = "SPRING" }, "promo")).StatusCode);
        var subscribed = await (await client.PostKeyedAsync("/api/billing/checkout", new { plan = free, currency = "EUR", country = "DE" }, "free")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("free", subscribed.GetProperty("status").GetString());
        Assert.Equal(0, subscribed.GetProperty("amount").GetInt64());
        Assert.Equal("Active", subscribed.GetProperty("subscription").GetProperty("status").GetString());
        Assert.True(subscribed.GetProperty("subscription").GetProperty("withAds").GetBoolean());
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostKeyedAsync("/api/billing/checkout", new { plan = free, currency = "EUR", country = "DE" }, "again")).StatusCode);

        Assert.Equal(charges, await InDbAsync(db => db.SandboxCharges.CountAsync())); // the gateway was not called
        Assert.Equal(0, await InDbAsync(db => db.Payments.CountAsync(p => p.AccountId == viewer.Id)));
        Assert.Equal(0, await InDbAsync(db => db.Invoices.CountAsync(i => i.AccountId == viewer.Id)));

        var session = await PlayAsync(client, title);
        Assert.True(session.GetProperty("withAds").GetBoolean());
        Assert.Equal(720, session.GetProperty("maxHeight").GetInt32());
        var state = await client.GetFromJsonAsync<JsonElement>($"/api/playback/sessions/{session.GetProperty("sessionId").GetGuid()}");
        Assert.True(state.GetProperty("withAds").GetBoolean());
        Assert.Contains("id=\"player-ads\"", await client.GetStringAsync($"/watch/{title}"), StringComparison.Ordinal);

        // A rental paid for plays without ads, on a plan with ads too.
        await (await client.PostKeyedAsync($"/api/billing/titles/{rental}/rent", new { card = SandboxGateway.Success, country = "DE" }, "rent")).JsonAsync(HttpStatusCode.Created);
        Assert.False((await PlayAsync(client, rental)).GetProperty("withAds").GetBoolean());
        await client.DeleteAsync($"/api/playback/sessions/{session.GetProperty("sessionId").GetGuid()}");

        // Two months on: the renewals roll the period without an invoice or a charge; it still plays, with ads.
        var end = subscribed.GetProperty("subscription").GetProperty("currentPeriodEnd").GetDateTimeOffset();
        fixture.Time!.Advance(TimeSpan.FromDays(62));
        await App.Services.GetRequiredService<BillingScheduler>().RunDueAsync(CancellationToken.None);
        using var later = await viewer.ClientAsync();
        var sub = await later.GetFromJsonAsync<JsonElement>("/api/billing/subscription");
        Assert.Equal("Active", sub.GetProperty("status").GetString());
        Assert.True(sub.GetProperty("currentPeriodStart").GetDateTimeOffset() > end);
        Assert.True(sub.GetProperty("currentPeriodEnd").GetDateTimeOffset() > fixture.Time.GetUtcNow());
        Assert.Equal(1, await InDbAsync(db => db.Invoices.CountAsync(i => i.AccountId == viewer.Id))); // the rental's only
        Assert.Equal(charges + 1, await InDbAsync(db => db.SandboxCharges.CountAsync()));
        Assert.True((await PlayAsync(later, title)).GetProperty("withAds").GetBoolean());
        await AssertVerifiedAsync();
    }

    [Fact]
    public async Task UpgradeFromFreeToPaid_GoesThroughTheCheckoutAtFullPrice_PlaysWithoutAds_DowngradeRollsFree()
    {
        var free = await FreePlanAsync();
        var paid = Code("paid");
        using (var finance = await App.ClientWithRolesAsync("finance")) // signed in now: the shared clock may have moved past the admin client's cookie
        {
            await (await finance.PostAsJsonAsync("/api/billing/plans", new { code = paid, name = "Paid", period = "Monthly", prices = new { EUR = 999 } })).JsonAsync(HttpStatusCode.Created);
        }
        var title = await TitleAsync("Upgrade film");
        var viewer = await App.ViewerAsync();
        using var client = await viewer.ClientAsync();
        await (await client.PostKeyedAsync("/api/billing/checkout", new { plan = free, currency = "EUR", country = "DE" }, "free")).JsonAsync(HttpStatusCode.Created);

        // A plan change has no card to charge: the paid plan is taken at checkout.
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostKeyedAsync("/api/billing/subscription/plan", new { plan = paid }, "change")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostKeyedAsync("/api/billing/checkout", new { plan = paid, currency = "EUR", country = "DE" }, "no-card")).StatusCode);

        // A declined card leaves the free plan as it was.
        Assert.Equal(HttpStatusCode.PaymentRequired, (await client.PostKeyedAsync("/api/billing/checkout", new { plan = paid, currency = "EUR", card = SandboxGateway.Declined, country = "DE" }, "declined")).StatusCode);
        var still = await client.GetFromJsonAsync<JsonElement>("/api/billing/subscription");
        Assert.Equal((free, "Active"), (still.GetProperty("plan").GetString(), still.GetProperty("status").GetString()));

        var upgraded = await (await client.PostKeyedAsync("/api/billing/checkout", new { plan = paid, currency = "EUR", card = SandboxGateway.Success, country = "DE" }, "upgrade"))
            .JsonAsync(HttpStatusCode.Created);
        Assert.Equal(1189, upgraded.GetProperty("amount").GetInt64()); // the full price, 999 + 19 % (189.81 -> 190): a price of 0 credits nothing
        var now = fixture.Time!.GetUtcNow();
        Assert.Equal(now, upgraded.GetProperty("subscription").GetProperty("currentPeriodStart").GetDateTimeOffset());
        Assert.Equal(now.AddMonths(1), upgraded.GetProperty("subscription").GetProperty("currentPeriodEnd").GetDateTimeOffset());
        Assert.False(upgraded.GetProperty("subscription").GetProperty("withAds").GetBoolean());
        Assert.Equal(1, await InDbAsync(db => db.Subscriptions.CountAsync(s => s.AccountId == viewer.Id && s.Open)));
        Assert.Equal(1, await InDbAsync(db => db.Subscriptions.CountAsync(s => s.AccountId == viewer.Id && !s.Open && s.Status == SubscriptionStatus.Canceled)));
        var session = await PlayAsync(client, title);
        Assert.False(session.GetProperty("withAds").GetBoolean());
        await client.DeleteAsync($"/api/playback/sessions/{session.GetProperty("sessionId").GetGuid()}");
        await AssertVerifiedAsync();

        // Back to the free plan: at the next renewal, with nothing charged.
        var down = await (await client.PostKeyedAsync("/api/billing/subscription/plan", new { plan = free }, "down")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(free, down.GetProperty("nextPlan").GetString());
        fixture.Time.Advance(TimeSpan.FromDays(32));
        await App.Services.GetRequiredService<BillingScheduler>().RunDueAsync(CancellationToken.None);
        using var later = await viewer.ClientAsync();
        var sub = await later.GetFromJsonAsync<JsonElement>("/api/billing/subscription");
        Assert.Equal((free, "Active", true), (sub.GetProperty("plan").GetString(), sub.GetProperty("status").GetString(), sub.GetProperty("withAds").GetBoolean()));
        Assert.Equal(1, await InDbAsync(db => db.Payments.CountAsync(p => p.AccountId == viewer.Id && p.Status == PaymentStatus.Succeeded)));
        Assert.True((await PlayAsync(later, title)).GetProperty("withAds").GetBoolean());
        await AssertVerifiedAsync();
    }

    [Fact]
    public async Task UpgradeFromFree_WhoseThreeDSecureFailsOrIsAbandoned_KeepsTheFreePlanAndItsAccess_UntilThePaidPlanIsPaid()
    {
        var free = await FreePlanAsync();
        var paid = Code("paid3ds");
        using (var finance = await App.ClientWithRolesAsync("finance"))
        {
            await (await finance.PostAsJsonAsync("/api/billing/plans", new { code = paid, name = "Paid", period = "Monthly", prices = new { EUR = 999 } })).JsonAsync(HttpStatusCode.Created);
        }

        var title = await TitleAsync("3-D Secure upgrade film");
        var viewer = await App.ViewerAsync();
        using var client = await viewer.ClientAsync();
        await (await client.PostKeyedAsync("/api/billing/checkout", new { plan = free, currency = "EUR", country = "DE" }, "free")).JsonAsync(HttpStatusCode.Created);

        async Task AssertStillFreeAsync()
        {
            var sub = await client.GetFromJsonAsync<JsonElement>("/api/billing/subscription");
            Assert.Equal((free, "Active", true), (sub.GetProperty("plan").GetString(), sub.GetProperty("status").GetString(), sub.GetProperty("withAds").GetBoolean()));
            var session = await PlayAsync(client, title);
            Assert.True(session.GetProperty("withAds").GetBoolean());
            await client.DeleteAsync($"/api/playback/sessions/{session.GetProperty("sessionId").GetGuid()}");
        }

        async Task<string> UpgradeAsync(string key)
        {
            var pending = await (await client.PostKeyedAsync("/api/billing/checkout", new { plan = paid, currency = "EUR", card = SandboxGateway.ThreeDSecure, country = "DE" }, key))
                .JsonAsync(HttpStatusCode.Accepted);
            Assert.Equal("requires_action", pending.GetProperty("status").GetString());
            return pending.GetProperty("redirect").GetString()!["/billing/sandbox/3ds/".Length..];
        }

        async Task DeliverWebhooksAsync()
        {
            using var finance = await App.ClientWithRolesAsync("finance");
            (await finance.PostAsync("/api/billing/jobs/run", null)).EnsureSuccessStatusCode(); // the sandbox delivers its webhooks
        }

        // Waiting for the payer's 3-D Secure answer (or abandoned): the free plan is still the account's, and plays.
        var abandoned = await UpgradeAsync("upgrade-1");
        await AssertStillFreeAsync();

        // Another try, whose challenge fails: still the free plan, with its access.
        var failed = await UpgradeAsync("upgrade-2");
        await App.ScopedAsync(sp => sp.GetRequiredService<SandboxGateway>().CompleteChallengeAsync(failed, confirmed: false, CancellationToken.None));
        await DeliverWebhooksAsync();
        await AssertStillFreeAsync();
        Assert.Equal(0, await InDbAsync(db => db.Payments.CountAsync(p => p.AccountId == viewer.Id && p.Status == PaymentStatus.Succeeded)));

        // A third try that succeeds: the paid plan replaces the free one, once.
        var confirmed = await UpgradeAsync("upgrade-3");
        await App.ScopedAsync(sp => sp.GetRequiredService<SandboxGateway>().CompleteChallengeAsync(confirmed, confirmed: true, CancellationToken.None));
        await DeliverWebhooksAsync();
        var sub = await client.GetFromJsonAsync<JsonElement>("/api/billing/subscription");
        Assert.Equal((paid, "Active", false), (sub.GetProperty("plan").GetString(), sub.GetProperty("status").GetString(), sub.GetProperty("withAds").GetBoolean()));
        Assert.Equal(1, await InDbAsync(db => db.Subscriptions.CountAsync(s => s.AccountId == viewer.Id && s.Open)));
        Assert.Equal(SubscriptionStatus.Canceled, (await InDbAsync(db => db.Subscriptions.SingleAsync(s => s.AccountId == viewer.Id && s.PlanId == db.Plans.Single(p => p.Code == free).Id))).Status);
        var session = await PlayAsync(client, title);
        Assert.False(session.GetProperty("withAds").GetBoolean());
        await client.DeleteAsync($"/api/playback/sessions/{session.GetProperty("sessionId").GetGuid()}");
        Assert.NotEqual(abandoned, confirmed);
        await AssertVerifiedAsync();
    }

    [Fact]
    public async Task APlanFreeInEurOnly_CheckoutInEurTakesNoCard_InUsdCharges_AndSubscriptionChangedSaysPayingForEach()
    {
        var plan = Code("mixed");
        using (var finance = await App.ClientWithRolesAsync("finance"))
        {
            var created = await (await finance.PostAsJsonAsync("/api/billing/plans", new
            {
                code = plan, name = "Free in EUR", period = "Monthly", prices = new Dictionary<string, long> { ["EUR"] = 0, ["USD"] = 499 }, maxHeight = 720, withAds = true,
            })).JsonAsync(HttpStatusCode.Created);
            Assert.False(created.GetProperty("free").GetBoolean()); // not free in every currency
        }

        // The checkout page asks for no card in EUR (the card field is not required; a hint says so).
        using (var page = await App.ClientWithRolesAsync())
        {
            var html = await page.GetStringAsync($"/checkout/{plan}");
            Assert.Contains("No card in EUR", html, StringComparison.Ordinal);
            Assert.DoesNotMatch("id=\"checkout-card\"[^>]*required", html);
        }

        var eur = await App.ViewerAsync();
        var usd = await App.ViewerAsync();
        var charges = await InDbAsync(db => db.SandboxCharges.CountAsync());

        // EUR: free with ads, no card, no gateway, no invoice.
        using var eurClient = await eur.ClientAsync();
        var free = await (await eurClient.PostKeyedAsync("/api/billing/checkout", new { plan, currency = "EUR", country = "DE" }, "eur")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(("free", 0L), (free.GetProperty("status").GetString(), free.GetProperty("amount").GetInt64()));
        Assert.Equal(charges, await InDbAsync(db => db.SandboxCharges.CountAsync()));
        Assert.Equal(0, await InDbAsync(db => db.Invoices.CountAsync(i => i.AccountId == eur.Id)));

        // USD: paid, a card is required and charged (no US tax configured: 4.99 USD).
        using var usdClient = await usd.ClientAsync();
        Assert.Equal(HttpStatusCode.BadRequest, (await usdClient.PostKeyedAsync("/api/billing/checkout", new { plan, currency = "USD", country = "US" }, "no-card")).StatusCode);
        var paid = await (await usdClient.PostKeyedAsync("/api/billing/checkout", new { plan, currency = "USD", card = SandboxGateway.Success, country = "US" }, "usd"))
            .JsonAsync(HttpStatusCode.Created);
        Assert.Equal(("succeeded", 499L, "USD"), (paid.GetProperty("status").GetString(), paid.GetProperty("amount").GetInt64(), paid.GetProperty("currency").GetString()));
        Assert.Equal(charges + 1, await InDbAsync(db => db.SandboxCharges.CountAsync()));

        // What Billing told the other modules (Analytics' paying subscribers): paying in USD, not in EUR.
        async Task<List<bool>> PayingAsync(Guid account) =>
            [.. (await App.ScopedAsync(sp => sp.GetRequiredService<BillingDb>().Set<Marquee.Platform.Events.OutboxMessage>().AsNoTracking()
                    .Where(m => m.EventName == "billing.subscription-changed.v1").Select(m => m.Payload).ToListAsync()))
                .Select(p => JsonDocument.Parse(p).RootElement)
                .Where(e => e.GetProperty("accountId").GetGuid() == account)
                .Select(e => e.GetProperty("paying").GetBoolean())];
        Assert.Equal([false], await PayingAsync(eur.Id));
        Assert.Equal([true], await PayingAsync(usd.Id));

        // A month on: the EUR subscription rolls free, the USD one is charged again; each event says the same.
        fixture.Time!.Advance(TimeSpan.FromDays(32));
        await App.Services.GetRequiredService<BillingScheduler>().RunDueAsync(CancellationToken.None);
        Assert.Equal(0, await InDbAsync(db => db.Invoices.CountAsync(i => i.AccountId == eur.Id)));
        Assert.Equal(2, await InDbAsync(db => db.Payments.CountAsync(p => p.AccountId == usd.Id && p.Status == PaymentStatus.Succeeded)));
        Assert.All(await PayingAsync(eur.Id), Assert.False);
        Assert.All(await PayingAsync(usd.Id), Assert.True);
        Assert.True((await PayingAsync(usd.Id)).Count >= 2);
        await AssertVerifiedAsync();
    }
}

/// <summary>The AVOD tests' host: a fake clock (no worker: the tests run the scheduler) and entitlements required.</summary>
public sealed class AvodApp : BillingAppFixture
{
    public AvodApp()
    {
        Time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2027, 5, 3, 9, 0, 0, TimeSpan.Zero));
        RequireEntitlement = true;
    }
}
