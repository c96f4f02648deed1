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

/// <summary>Plans, checkout with the sandbox's test cards, idempotency keys, 3-D Secure and signed webhooks, through the real HTTP stack; SQLite and PostgreSQL.</summary>
public sealed class CheckoutTests(HlsStub package) : IClassFixture<HlsStub>
{
    private static object Checkout(string card, string plan = "basic", string country = "DE") => new { plan, currency = "EUR", card, country };

    private static Task<T> InDbAsync<T>(MarqueeApp app, Func<BillingDb, Task<T>> read) => app.ScopedAsync(sp => read(sp.GetRequiredService<BillingDb>()));

    [Fact]
    public async Task Plans_FinanceCreates_ViewersSeeButCannotCreate()
    {
        await using var app = await BillingHost.StartAsync(package, requireEntitlement: false);
        using var finance = await app.ClientWithRolesAsync("finance");
        var created = await finance.PostAsJsonAsync("/api/billing/plans", new { code = "hd", name = "HD", period = "Monthly", prices = new Dictionary<string, long> { ["EUR"] = 999 }, maxHeight = 1080, streams = 2, trialDays = 7 });
        await created.JsonAsync(HttpStatusCode.Created);

        using var viewer = await app.ClientWithRolesAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsJsonAsync("/api/billing/plans", new { code = "x", name = "X", period = "Monthly", prices = new { EUR = 1 } })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await finance.PostAsJsonAsync("/api/billing/plans", new { code = "Bad Code", name = "X", period = "Monthly", prices = new { eur = 0 } })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await finance.PostAsJsonAsync("/api/billing/plans", new { code = "hd", name = "HD", period = "Monthly", prices = new { EUR = 999 } })).StatusCode);

        var plans = await app.AnonymousClient.GetFromJsonAsync<JsonElement>("/api/billing/plans");
        var plan = Assert.Single(plans.EnumerateArray());
        Assert.Equal(999, plan.GetProperty("prices").GetProperty("EUR").GetInt64());
        Assert.Equal(7, plan.GetProperty("trialDays").GetInt32());

        var page = await app.AnonymousClient.GetStringAsync("/plans");
        Assert.Contains("9.99 EUR", page, StringComparison.Ordinal);
        Assert.Contains("7-day free trial", page, StringComparison.Ordinal);
        Assert.Contains("HD", await finance.GetStringAsync("/console/billing"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checkout_WithSuccessCard_ActivatesOnceForAKey_AndRejectsTheKeyWithAnotherBody()
    {
        await using var app = await BillingHost.StartAsync(package, requireEntitlement: false);
        await app.CreatePlanAsync("basic", "Monthly", 999);
        var viewer = await app.ViewerAsync();
        using var client = await viewer.ClientAsync();

        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/api/billing/checkout", Checkout(SandboxGateway.Success))).StatusCode);

        var first = await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(SandboxGateway.Success), "key-1")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("succeeded", first.GetProperty("status").GetString());
        Assert.Equal(1189, first.GetProperty("amount").GetInt64()); // 999 + 19 % tax (189.81 -> 190)
        Assert.Equal("Active", first.GetProperty("subscription").GetProperty("status").GetString());

        var again = await client.PostKeyedAsync("/api/billing/checkout", Checkout(SandboxGateway.Success), "key-1");
        var replay = await again.JsonAsync(HttpStatusCode.Created);
        Assert.Equal(first.GetProperty("paymentId").GetGuid(), replay.GetProperty("paymentId").GetGuid());
        Assert.True(again.Headers.Contains("Idempotent-Replayed"));

        var other = await client.PostKeyedAsync("/api/billing/checkout", Checkout(SandboxGateway.Success, country: "FR"), "key-1");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);
        Assert.Equal("application/problem+json", other.Content.Headers.ContentType?.MediaType);

        var second = await client.PostKeyedAsync("/api/billing/checkout", Checkout(SandboxGateway.Success), "key-2");
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);

        Assert.Equal(1, await InDbAsync(app, db => db.SandboxCharges.CountAsync()));
        Assert.Equal(1, await InDbAsync(app, db => db.Payments.CountAsync()));
        var invoices = await client.GetFromJsonAsync<JsonElement>("/api/billing/invoices/mine");
        var invoice = Assert.Single(invoices.EnumerateArray());
        Assert.Equal("INV-000001", invoice.GetProperty("number").GetString());
        Assert.Equal(190, invoice.GetProperty("tax").GetInt64());

        var ledger = await app.Client.GetFromJsonAsync<JsonElement>("/api/billing/ledger");
        Assert.Empty(ledger.GetProperty("problems").EnumerateArray());
        var totals = ledger.GetProperty("totals").EnumerateArray().ToDictionary(t => t.GetProperty("account").GetString()!, t => t.GetProperty("balance").GetInt64());
        Assert.Equal(1189 - 42, totals["cash"]); // fee 25 + 1.4 % of 1189 (16.65 -> 17)
        Assert.Equal(42, totals["gateway-fees"]);
        Assert.Equal(190, totals["tax-payable"]);
        Assert.Equal(999, totals["revenue"]);
    }

    [Fact]
    public async Task Checkout_ConcurrentDuplicates_ChargeOnce()
    {
        await using var app = await BillingHost.StartAsync(package, requireEntitlement: false);
        await app.CreatePlanAsync("basic", "Monthly", 999);
        var viewers = new List<Viewer>();
        for (var i = 0; i < 5; i++)
        {
            viewers.Add(await app.ViewerAsync());
        }

        var clients = await Task.WhenAll(viewers.Select(v => v.ClientAsync()));
        var responses = await Task.WhenAll(clients.SelectMany((c, i) => Enumerable.Range(0, 4).Select(_ => c.PostKeyedAsync("/api/billing/checkout", Checkout(SandboxGateway.Success), $"order-{i}"))));
        foreach (var r in responses)
        {
            Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"{r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
        }

        Assert.Equal(5, await InDbAsync(app, db => db.Subscriptions.CountAsync(s => s.Open && s.Status == SubscriptionStatus.Active)));
        Assert.Equal(5, await InDbAsync(app, db => db.Payments.CountAsync(p => p.Status == PaymentStatus.Succeeded)));
        Assert.Equal(5, await InDbAsync(app, db => db.SandboxCharges.CountAsync(c => c.Status == SandboxChargeStatus.Succeeded)));
        var ledger = await app.Client.GetFromJsonAsync<JsonElement>("/api/billing/ledger");
        Assert.Empty(ledger.GetProperty("problems").EnumerateArray());
    }

    [Theory]
    [InlineData(SandboxGateway.Declined, "declined")]
    [InlineData(SandboxGateway.InsufficientFunds, "insufficient funds")]
    public async Task Checkout_WithFailingCard_Is402AndLeavesNoSubscription(string card, string reason)
    {
        await using var app = await BillingHost.StartAsync(package, requireEntitlement: false);
        await app.CreatePlanAsync("basic", "Monthly", 999);
        var viewer = await app.ViewerAsync();
        using var client = await viewer.ClientAsync();

        var response = await client.PostKeyedAsync("/api/billing/checkout", Checkout(card), "k");
        Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
        Assert.Contains(reason, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/billing/subscription")).StatusCode);
        Assert.Equal(0, await InDbAsync(app, db => db.Ledger.CountAsync()));
        Assert.Equal(HttpStatusCode.PaymentRequired, (await client.PostKeyedAsync("/api/billing/checkout", Checkout(card), "k")).StatusCode); // the stored answer
        Assert.Equal(1, await InDbAsync(app, db => db.SandboxCharges.CountAsync()));
        Assert.Equal(HttpStatusCode.Created, (await client.PostKeyedAsync("/api/billing/checkout", Checkout(SandboxGateway.Success), "k2")).StatusCode);
    }

    [Fact]
    public async Task ThreeDSecure_ConfirmedThroughWebhooks_ActivatesOnce_DuplicatesStaleAndForgedRefused()
    {
        await using var app = await BillingHost.StartAsync(package, requireEntitlement: false, configure: c => c["Marquee:Roles"] = "web");
        await app.CreatePlanAsync("basic", "Monthly", 999);
        var viewer = await app.ViewerAsync();
        using var client = await viewer.ClientAsync();

        var pending = await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(SandboxGateway.ThreeDSecure), "3ds")).JsonAsync(HttpStatusCode.Accepted);
        Assert.Equal("requires_action", pending.GetProperty("status").GetString());
        var redirect = pending.GetProperty("redirect").GetString()!;
        Assert.StartsWith("/billing/sandbox/3ds/ch_", redirect, StringComparison.Ordinal);
        Assert.Equal("Incomplete", (await client.GetFromJsonAsync<JsonElement>("/api/billing/subscription")).GetProperty("status").GetString());
        var chargeId = redirect["/billing/sandbox/3ds/".Length..];

        // The payer confirms at the gateway (its page); Marquee hears of it by webhook only.
        await app.ScopedAsync(sp => sp.GetRequiredService<SandboxGateway>().CompleteChallengeAsync(chargeId, confirmed: true, CancellationToken.None));
        var now = app.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var body = JsonSerializer.Serialize(new { id = "evt_dup", type = "charge.succeeded", created = now.ToUnixTimeSeconds(), chargeId });

        Assert.Equal(HttpStatusCode.BadRequest, (await app.WebhookAsync(body, BillingHost.Sign(body, now, "wrong-secret"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await app.WebhookAsync(body, BillingHost.Sign(body, now.AddSeconds(-301)))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await app.WebhookAsync(body, "")).StatusCode);
        Assert.Equal(0, await InDbAsync(app, db => db.Webhooks.CountAsync()));

        var copies = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => app.WebhookAsync(body, BillingHost.Sign(body, now))));
        Assert.All(copies, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, await InDbAsync(app, db => db.Webhooks.CountAsync()));

        // An older event about the same charge arrives late: it converges to the charge's true state (no second effect).
        var late = JsonSerializer.Serialize(new { id = "evt_late", type = "charge.requires_action", created = now.AddSeconds(-60).ToUnixTimeSeconds(), chargeId });
        Assert.Equal(HttpStatusCode.OK, (await app.WebhookAsync(late, BillingHost.Sign(late, now))).StatusCode);

        Assert.Equal("Active", (await client.GetFromJsonAsync<JsonElement>("/api/billing/subscription")).GetProperty("status").GetString());
        Assert.Equal(1, await InDbAsync(app, db => db.Payments.CountAsync(p => p.Status == PaymentStatus.Succeeded)));
        Assert.Equal(1, await InDbAsync(app, db => db.Recognitions.CountAsync()));
        var ledger = await app.Client.GetFromJsonAsync<JsonElement>("/api/billing/ledger");
        Assert.Empty(ledger.GetProperty("problems").EnumerateArray());

        // The sandbox's own queued webhooks (delivered twice each, newest first) change nothing more.
        await app.ScopedAsync(sp => sp.GetRequiredService<BillingScheduler>().DeliverSandboxWebhooksAsync(CancellationToken.None));
        Assert.Equal(1, await InDbAsync(app, db => db.Payments.CountAsync(p => p.Status == PaymentStatus.Succeeded)));
        Assert.Equal(4, await InDbAsync(app, db => db.Ledger.CountAsync(e => e.Source.StartsWith("payment:"))));
    }

    [Fact]
    public async Task Checkout_SendsTheReceiptByMail()
    {
        await using var app = await BillingHost.StartAsync(package, requireEntitlement: false);
        await app.CreatePlanAsync("basic", "Monthly", 999);
        var viewer = await app.ViewerAsync();
        using var client = await viewer.ClientAsync();
        var paid = await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(SandboxGateway.Success), "mail")).JsonAsync(HttpStatusCode.Created);
        var number = paid.GetProperty("invoiceNumber").GetString()!;

        var dir = Path.Combine(app.DataDir, "mail");
        var mail = await Poll.UntilAsync(
            () => Task.FromResult(Directory.Exists(dir)
                ? Directory.GetFiles(dir, "*.eml").Select(File.ReadAllText).FirstOrDefault(t => t.Contains(number, StringComparison.Ordinal) && t.Contains(viewer.Email, StringComparison.Ordinal))
                : null),
            found => found is not null, TimeSpan.FromSeconds(20), "the receipt") ?? "";
        Assert.Contains("Total paid: 11.89 EUR", mail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refund_IssuesACreditNote_EndsTheSubscription_AndKeepsTheLedgerBalanced()
    {
        await using var app = await BillingHost.StartAsync(package, requireEntitlement: false);
        await app.CreatePlanAsync("annual", "Yearly", 9990);
        var viewer = await app.ViewerAsync();
        using var client = await viewer.ClientAsync();
        var paid = await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(SandboxGateway.Success, "annual", "FR"), "y")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(11988, paid.GetProperty("amount").GetInt64());

        using var finance = await app.ClientWithRolesAsync("finance");
        var note = await (await finance.PostKeyedAsync($"/api/billing/invoices/{paid.GetProperty("invoiceId").GetGuid()}/refund", new { }, "refund-1")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("CN-000001", note.GetProperty("number").GetString());
        Assert.Equal(-11988, note.GetProperty("total").GetInt64());
        Assert.Equal(HttpStatusCode.OK, (await finance.PostKeyedAsync($"/api/billing/invoices/{paid.GetProperty("invoiceId").GetGuid()}/refund", new { }, "refund-1")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await finance.PostKeyedAsync($"/api/billing/invoices/{paid.GetProperty("invoiceId").GetGuid()}/refund", new { }, "refund-2")).StatusCode);
        Assert.Equal("Canceled", (await client.GetFromJsonAsync<JsonElement>("/api/billing/subscription")).GetProperty("status").GetString());

        var ledger = await finance.GetFromJsonAsync<JsonElement>("/api/billing/ledger");
        Assert.Empty(ledger.GetProperty("problems").EnumerateArray());
        var totals = ledger.GetProperty("totals").EnumerateArray().ToDictionary(t => t.GetProperty("account").GetString()!, t => t.GetProperty("balance").GetInt64());
        Assert.Equal(-193, totals["cash"]); // the fee (25 + 1.4 % of 11988 = 167.83 -> 168) is not returned
        Assert.Equal(193, totals["gateway-fees"]);
        Assert.Equal(0, totals["tax-payable"]);
        Assert.Equal(0, totals["deferred-revenue"]);
        Assert.Equal(0, totals["revenue"]);
    }
}
