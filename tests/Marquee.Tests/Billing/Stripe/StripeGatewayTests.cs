using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Marquee.Billing.Data;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using WireMock.Matchers;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Marquee.Tests.Billing.Stripe;

/// <summary>
/// One host with <c>Marquee:Billing:Gateway=stripe</c> pointed at WireMock.Net serving recorded Stripe API answers (the
/// JSON files beside this class), its loopback port in the SSRF guard's allow-list. Each test uses its own Stripe test
/// payment method, so that the stubs (one PaymentIntent each) never collide.
/// </summary>
public sealed class StripeHost : IAsyncLifetime
{
    public const string WebhookSecret = "whsec_test_marquee_stripe";
    public const string ApiKey = "sk_test_marquee_fixture";

    // Payment method -> the PaymentIntent id its checkout answers.
    public const string Succeeds = "pm_card_visa";
    public const string Declines = "pm_card_chargeDeclined";
    public const string Authenticates = "pm_card_threeDSecure2Required";
    public const string AuthenticatesThenWebhook = "pm_card_authenticationRequired";
    public const string RefundLater = "pm_card_mastercard";

    public const string SucceededId = "pi_3QkT2mLkdIwHu7ix1aB2cD3e";
    public const string ActionId = "pi_3QkT3nLkdIwHu7ix0Hj4Kl5M";
    public const string WebhookId = "pi_3QkT9wLkdIwHu7ix0Wh1Ok2Z";
    public const string RefundId = "pi_3QkT8rLkdIwHu7ix0Rf1Nd2X";

    // Refunds that Stripe answers "pending": one that succeeds later, one that fails.
    public const string RefundPendingThenSucceeds = "pm_card_amex";
    public const string RefundPendingThenFails = "pm_card_discover";
    public const string PendingSucceedsId = "pi_3QkU1aLkdIwHu7ix0Pd3Sc4A";
    public const string PendingFailsId = "pi_3QkU2bLkdIwHu7ix0Pd5Fl6B";

    // A 3-D Secure payment confirmed by a webhook sent 50 times at once (R7).
    public const string AuthenticatesThenManyWebhooks = "pm_card_jcb";
    public const string ManyWebhooksId = "pi_3QkU3cLkdIwHu7ix0Mw7Hk8C";

    public WireMockServer Server { get; private set; } = null!;

    public MarqueeApp App { get; private set; } = null!;

    public static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Billing", "Stripe", name));

    public async Task InitializeAsync()
    {
        Server = WireMockServer.Start();
        Server.Given(Request.Create().WithPath("/v1/customers").UsingPost()).RespondWith(Json(200, Fixture("customer.json")));
        Server.Given(Form(Succeeds)).RespondWith(Json(200, Fixture("payment_intent_succeeded.json")));
        Server.Given(Form(Declines)).RespondWith(Json(402, Fixture("error_card_declined.json")));
        Server.Given(Form(Authenticates)).RespondWith(Json(200, Fixture("payment_intent_requires_action.json")));
        Server.Given(Form(AuthenticatesThenWebhook)).RespondWith(Json(200, Fixture("payment_intent_requires_action.json").Replace(ActionId, WebhookId, StringComparison.Ordinal)));
        Server.Given(Form(RefundLater)).RespondWith(Json(200, Fixture("payment_intent_succeeded.json").Replace(SucceededId, RefundId, StringComparison.Ordinal)));

        // After the payer authenticated: Stripe's PaymentIntent has succeeded (what the webhook's effect re-reads).
        Server.Given(Request.Create().WithPath($"/v1/payment_intents/{WebhookId}").UsingGet())
            .RespondWith(Json(200, Fixture("payment_intent_succeeded.json").Replace(SucceededId, WebhookId, StringComparison.Ordinal)));
        Server.Given(Request.Create().WithPath("/v1/refunds").UsingPost().WithBody(new RegexMatcher($"(^|&)payment_intent={RefundId}(&|$)")))
            .RespondWith(Json(200, Fixture("refund.json").Replace(SucceededId, RefundId, StringComparison.Ordinal)));

        foreach (var (method, id) in new[] { (RefundPendingThenSucceeds, PendingSucceedsId), (RefundPendingThenFails, PendingFailsId) })
        {
            Server.Given(Form(method)).RespondWith(Json(200, Fixture("payment_intent_succeeded.json").Replace(SucceededId, id, StringComparison.Ordinal)));
            Server.Given(Request.Create().WithPath("/v1/refunds").UsingPost().WithBody(new RegexMatcher($"(^|&)payment_intent={id}(&|$)")))
                .RespondWith(Json(200, Refund(id, "pending")));
        }

        Server.Given(Form(AuthenticatesThenManyWebhooks)).RespondWith(Json(200, Fixture("payment_intent_requires_action.json").Replace(ActionId, ManyWebhooksId, StringComparison.Ordinal)));
        Server.Given(Request.Create().WithPath($"/v1/payment_intents/{ManyWebhooksId}").UsingGet())
            .RespondWith(Json(200, Fixture("payment_intent_succeeded.json").Replace(SucceededId, ManyWebhooksId, StringComparison.Ordinal)));

        var api = $"http://127.0.0.1:{Server.Port}";
        App = await MarqueeApp.StartAsync(c =>
        {
            c["Marquee:Billing:Gateway"] = "stripe";
            c["Marquee:Billing:Stripe:ApiKey"] = ApiKey;
            c["Marquee:Billing:Stripe:WebhookSecret"] = WebhookSecret;
            c["Marquee:Billing:Stripe:ApiBase"] = api;
            c["Marquee:Billing:Stripe:ReturnUrl"] = "https://marquee.example/billing/stripe/return";
            c["Marquee:Billing:Stripe:MaxNetworkRetries"] = "0";
            c["Marquee:Billing:TaxRates:DE"] = "0.19";
            c["Marquee:Outbound:AllowedHosts:0"] = $"127.0.0.1:{Server.Port}";
        });
        await App.CreatePlanAsync("basic", "Monthly", 999);
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        Server.Stop();
        Server.Dispose();
    }

    /// <summary>The recorded refund of a PaymentIntent, in this state (<c>pending</c>, <c>succeeded</c>, <c>failed</c>).</summary>
    public static string Refund(string paymentIntent, string status) =>
        Fixture("refund.json").Replace(SucceededId, paymentIntent, StringComparison.Ordinal)
            .Replace("\"status\": \"succeeded\"", $"\"status\": \"{status}\"", StringComparison.Ordinal)
            .Replace("\"id\": \"re_3QkT2mLkdIwHu7ix1Mn5Op6Q\"", $"\"id\": \"re_{paymentIntent[3..]}\"", StringComparison.Ordinal)
            .Replace("\"reason\": null", status == "failed" ? "\"reason\": null, \"failure_reason\": \"expired_or_canceled_card\"" : "\"reason\": null", StringComparison.Ordinal); // failed: with Stripe's reason

    /// <summary>
    /// What Stripe answers now about a PaymentIntent and its refunds (re-fetched by a webhook's effect): the charge shows the
    /// amount refunded while a refund is pending or succeeded, not once it failed. The same stub ids each time: replaced.
    /// </summary>
    public void RefundState(string paymentIntent, string status)
    {
        var intent = Fixture("payment_intent_succeeded.json").Replace(SucceededId, paymentIntent, StringComparison.Ordinal);
        if (status != "failed")
        {
            intent = intent.Replace("\"amount_refunded\": 0", "\"amount_refunded\": 1189", StringComparison.Ordinal).Replace("\"refunded\": false", "\"refunded\": true", StringComparison.Ordinal);
        }

        Server.Given(Request.Create().WithPath($"/v1/payment_intents/{paymentIntent}").UsingGet()).WithGuid(StubId(paymentIntent, 1)).RespondWith(Json(200, intent));
        Server.Given(Request.Create().WithPath("/v1/refunds").UsingGet().WithParam("payment_intent", paymentIntent)).WithGuid(StubId(paymentIntent, 2))
            .RespondWith(Json(200, $$"""{"object":"list","data":[{{Refund(paymentIntent, status)}}],"has_more":false,"url":"/v1/refunds"}"""));
    }

    private static Guid StubId(string paymentIntent, byte n)
    {
        var bytes = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(paymentIntent))[..16];
        bytes[0] = n;
        return new Guid(bytes);
    }

    private static IRequestBuilder Form(string paymentMethod) =>
        Request.Create().WithPath("/v1/payment_intents").UsingPost().WithBody(new RegexMatcher(MethodPattern(paymentMethod)));

    /// <summary>The form field <c>payment_method=...</c> in a Stripe.net request body.</summary>
    public static string MethodPattern(string paymentMethod) => $"(^|&)payment_method={paymentMethod}(&|$)";

    private static IResponseBuilder Json(int status, string body) =>
        Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json").WithHeader("Request-Id", "req_fixture").WithBody(body);
}

/// <summary>The Stripe adapter against recorded Stripe answers: checkout, decline, 3-D Secure, refund, signed webhooks.</summary>
public sealed class StripeGatewayTests(StripeHost host) : IClassFixture<StripeHost>
{
    private static object Checkout(string card) => new { plan = "basic", currency = "EUR", card, country = "DE" };

    private Task<T> InDbAsync<T>(Func<BillingDb, Task<T>> read) => host.App.ScopedAsync(sp => read(sp.GetRequiredService<BillingDb>()));

    [Fact]
    public async Task Checkout_ThroughStripe_Succeeds_AndStripeSawOurIdempotencyKey()
    {
        var (account, cookie) = await host.App.AccountWithRolesAsync();
        using var client = host.App.ClientWith(cookie);
        var body = await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(StripeHost.Succeeds), "stripe-ok")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("succeeded", body.GetProperty("status").GetString());
        Assert.Equal(1189, body.GetProperty("amount").GetInt64());
        Assert.Equal("Active", body.GetProperty("subscription").GetProperty("status").GetString());

        var create = Assert.Single(host.Server.LogEntries, e => e.RequestMessage.Path == "/v1/payment_intents" && System.Text.RegularExpressions.Regex.IsMatch(e.RequestMessage.Body ?? "", StripeHost.MethodPattern(StripeHost.Succeeds)));
        Assert.Equal($"checkout:{account:N}:stripe-ok", Assert.Single(create.RequestMessage.Headers!["Idempotency-Key"]));
        Assert.Equal($"Bearer {StripeHost.ApiKey}", Assert.Single(create.RequestMessage.Headers!["Authorization"]));
        Assert.Contains("confirm=true", create.RequestMessage.Body, StringComparison.Ordinal);
        Assert.Contains("amount=1189", create.RequestMessage.Body, StringComparison.Ordinal);

        var payment = await InDbAsync(db => db.Payments.SingleAsync(p => p.AccountId == account));
        Assert.Equal(StripeHost.SucceededId, payment.GatewayRef);
        Assert.Equal(PaymentStatus.Succeeded, payment.Status);
        Assert.Equal(42, payment.Fee); // the balance transaction's fee
    }

    [Fact]
    public async Task Checkout_DeclinedByStripe_Is402Problem()
    {
        var (account, cookie) = await host.App.AccountWithRolesAsync();
        using var client = host.App.ClientWith(cookie);
        var response = await client.PostKeyedAsync("/api/billing/checkout", Checkout(StripeHost.Declines), "stripe-decline");
        var problem = await response.JsonAsync(HttpStatusCode.PaymentRequired);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Payment declined", problem.GetProperty("title").GetString());
        Assert.False(await InDbAsync(db => db.Subscriptions.AnyAsync(s => s.AccountId == account && s.Open)));
        Assert.Equal("card_declined", (await InDbAsync(db => db.Payments.SingleAsync(p => p.AccountId == account))).Failure);
    }

    [Fact]
    public async Task Checkout_RequiresAction_IsOurChallengeWithStripesRedirect()
    {
        var (account, cookie) = await host.App.AccountWithRolesAsync();
        using var client = host.App.ClientWith(cookie);
        var body = await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(StripeHost.Authenticates), "stripe-3ds")).JsonAsync(HttpStatusCode.Accepted);
        Assert.Equal("requires_action", body.GetProperty("status").GetString());
        Assert.StartsWith("https://hooks.stripe.com/3d_secure_2/hosted?", body.GetProperty("redirect").GetString(), StringComparison.Ordinal);
        Assert.Equal("Incomplete", body.GetProperty("subscription").GetProperty("status").GetString());

        var create = Assert.Single(host.Server.LogEntries, e => e.RequestMessage.Path == "/v1/payment_intents" && System.Text.RegularExpressions.Regex.IsMatch(e.RequestMessage.Body ?? "", StripeHost.MethodPattern(StripeHost.Authenticates)));
        Assert.Contains("return_url=" + Uri.EscapeDataString("https://marquee.example/billing/stripe/return"), create.RequestMessage.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refund_GoesToStripeWithAKey_AndIssuesACreditNote()
    {
        var (account, cookie) = await host.App.AccountWithRolesAsync();
        using var client = host.App.ClientWith(cookie);
        var paid = await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(StripeHost.RefundLater), "stripe-refund")).JsonAsync(HttpStatusCode.Created);

        using var finance = await host.App.ClientWithRolesAsync("finance");
        var note = await (await finance.PostKeyedAsync($"/api/billing/invoices/{paid.GetProperty("invoiceId").GetGuid()}/refund", new { }, "refund-1")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("CreditNote", note.GetProperty("kind").GetString());
        Assert.Equal(-1189, note.GetProperty("total").GetInt64());

        var refund = Assert.Single(host.Server.LogEntries, e => e.RequestMessage.Path == "/v1/refunds" && e.RequestMessage.Method == "POST" && (e.RequestMessage.Body ?? "").Contains(StripeHost.RefundId, StringComparison.Ordinal));
        Assert.Equal($"refund:{StripeHost.RefundId}", Assert.Single(refund.RequestMessage.Headers!["Idempotency-Key"]));
        Assert.Equal(PaymentStatus.Refunded, (await InDbAsync(db => db.Payments.SingleAsync(p => p.AccountId == account))).Status);
        Assert.False(await InDbAsync(db => db.Subscriptions.AnyAsync(s => s.AccountId == account && s.Open)));
    }

    [Fact]
    public async Task Webhook_SignedLikeStripe_IsAppliedOnceWhenSentTwice_BadOrStaleSignaturesRefused()
    {
        var (account, cookie) = await host.App.AccountWithRolesAsync();
        using var client = host.App.ClientWith(cookie);
        await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(StripeHost.AuthenticatesThenWebhook), "stripe-webhook")).JsonAsync(HttpStatusCode.Accepted);

        var evt = StripeHost.Fixture("event_payment_intent_succeeded.json").Replace(StripeHost.ActionId, StripeHost.WebhookId, StringComparison.Ordinal);
        var now = TimeProvider.System.GetUtcNow();

        var bad = await PostAsync(evt, Sign(evt, now, "whsec_someone_else"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var stale = await PostAsync(evt, Sign(evt, now.AddMinutes(-10), StripeHost.WebhookSecret));
        Assert.Equal(HttpStatusCode.BadRequest, stale.StatusCode);
        Assert.Contains("timestamp", await stale.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync(evt, "")).StatusCode);
        Assert.False(await InDbAsync(db => db.Webhooks.AnyAsync(w => w.EventId == "evt_3QkT5pLkdIwHu7ix0Ab1Cd2E")));

        var first = await (await PostAsync(evt, Sign(evt, now, StripeHost.WebhookSecret))).JsonAsync(HttpStatusCode.OK);
        var second = await (await PostAsync(evt, Sign(evt, now, StripeHost.WebhookSecret))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("processed", first.GetProperty("result").GetString());
        Assert.Equal("duplicate", second.GetProperty("result").GetString());

        var payment = await InDbAsync(db => db.Payments.SingleAsync(p => p.AccountId == account));
        Assert.Equal(PaymentStatus.Succeeded, payment.Status);
        Assert.Equal(SubscriptionStatus.Active, (await InDbAsync(db => db.Subscriptions.SingleAsync(s => s.AccountId == account))).Status);
        Assert.Equal(1, await InDbAsync(db => db.Ledger.Select(l => l.TransactionId).Where(t => db.Ledger.Any(x => x.TransactionId == t && x.Source == $"payment:{payment.Id}")).Distinct().CountAsync()));
        Assert.Equal(1, await InDbAsync(db => db.Webhooks.CountAsync(w => w.EventId == "evt_3QkT5pLkdIwHu7ix0Ab1Cd2E")));
    }

    [Fact]
    public async Task Webhook_FiftyConcurrentCopiesOfOneStripeEvent_OneEffect()
    {
        var (account, cookie) = await host.App.AccountWithRolesAsync();
        using var client = host.App.ClientWith(cookie);
        await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(StripeHost.AuthenticatesThenManyWebhooks), "stripe-many")).JsonAsync(HttpStatusCode.Accepted);

        var eventId = $"evt_{Guid.NewGuid():N}";
        var evt = StripeHost.Fixture("event_payment_intent_succeeded.json").Replace(StripeHost.ActionId, StripeHost.ManyWebhooksId, StringComparison.Ordinal)
            .Replace("evt_3QkT5pLkdIwHu7ix0Ab1Cd2E", eventId, StringComparison.Ordinal);
        var signature = Sign(evt, TimeProvider.System.GetUtcNow(), StripeHost.WebhookSecret);
        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => PostAsync(evt, signature)));
        var results = new List<string>();
        foreach (var answer in answers)
        {
            results.Add((await answer.JsonAsync(HttpStatusCode.OK)).GetProperty("result").GetString()!);
        }

        Assert.Equal(1, results.Count(r => r == "processed"));
        Assert.Equal(49, results.Count(r => r == "duplicate"));
        var payment = await InDbAsync(db => db.Payments.SingleAsync(p => p.AccountId == account));
        Assert.Equal(PaymentStatus.Succeeded, payment.Status);
        Assert.Equal(1, await InDbAsync(db => db.Ledger.Where(l => l.Source == $"payment:{payment.Id}").Select(l => l.TransactionId).Distinct().CountAsync()));
        Assert.Equal(1, await InDbAsync(db => db.Webhooks.CountAsync(w => w.EventId == eventId)));
        Assert.Empty((await Marquee.Billing.BillingModule.VerifyAsync(host.App.Services, CancellationToken.None)).Problems);
    }

    /// <summary>Stripe's <c>refund.updated</c> event carrying the refund in this state.</summary>
    private static string RefundUpdated(string paymentIntent, string status) =>
        $$"""{"id":"evt_{{Guid.NewGuid():N}}","object":"event","api_version":"2026-10-28.endive","created":1795651500,"data":{"object":{{StripeHost.Refund(paymentIntent, status)}}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"refund.updated"}""";

    private async Task<(Guid Account, Guid Invoice, Guid Payment)> PaidAndRefundPendingAsync(string method, string key)
    {
        var (account, cookie) = await host.App.AccountWithRolesAsync();
        using var client = host.App.ClientWith(cookie);
        var paid = await (await client.PostKeyedAsync("/api/billing/checkout", Checkout(method), key)).JsonAsync(HttpStatusCode.Created);
        var invoice = paid.GetProperty("invoiceId").GetGuid();

        using var finance = await host.App.ClientWithRolesAsync("finance");
        var pending = await (await finance.PostKeyedAsync($"/api/billing/invoices/{invoice}/refund", new { }, $"refund-{key}")).JsonAsync(HttpStatusCode.Accepted);
        Assert.Equal("refund_pending", pending.GetProperty("status").GetString());
        return (account, invoice, paid.GetProperty("paymentId").GetGuid());
    }

    /// <summary>Paid, no credit note, no refund in the ledger, the subscription open, the books verified.</summary>
    private async Task AssertNotRefundedYetAsync(Guid account, Guid invoice, Guid payment, PaymentStatus expected)
    {
        Assert.Equal(expected, (await InDbAsync(db => db.Payments.SingleAsync(p => p.Id == payment))).Status);
        Assert.Equal(InvoiceStatus.Paid, (await InDbAsync(db => db.Invoices.SingleAsync(i => i.Id == invoice))).Status);
        Assert.False(await InDbAsync(db => db.Invoices.AnyAsync(i => i.CreditsInvoiceId == invoice)));
        Assert.False(await InDbAsync(db => db.Ledger.AnyAsync(l => l.Source == $"refund:{payment}")));
        Assert.True(await InDbAsync(db => db.Subscriptions.AnyAsync(s => s.AccountId == account && s.Open && s.Status == SubscriptionStatus.Active)));
        Assert.Empty((await Marquee.Billing.BillingModule.VerifyAsync(host.App.Services, CancellationToken.None)).Problems);
    }

    [Fact]
    public async Task Refund_PendingAtStripe_IsRecordedPending_ThenCompletedByTheRefundUpdatedWebhook()
    {
        var id = StripeHost.PendingSucceedsId;
        var (account, invoice, payment) = await PaidAndRefundPendingAsync(StripeHost.RefundPendingThenSucceeds, "pending-ok");
        await AssertNotRefundedYetAsync(account, invoice, payment, PaymentStatus.RefundPending);

        // Still pending when Stripe tells of an update: nothing more.
        host.RefundState(id, "pending");
        var now = TimeProvider.System.GetUtcNow();
        var update = RefundUpdated(id, "pending");
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(update, Sign(update, now, StripeHost.WebhookSecret))).StatusCode);
        await AssertNotRefundedYetAsync(account, invoice, payment, PaymentStatus.RefundPending);

        // Succeeded: the credit note, the ledger reversal and the end of the subscription, once.
        host.RefundState(id, "succeeded");
        var done = RefundUpdated(id, "succeeded");
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(done, Sign(done, now, StripeHost.WebhookSecret))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(done, Sign(done, now, StripeHost.WebhookSecret))).StatusCode);
        Assert.Equal(PaymentStatus.Refunded, (await InDbAsync(db => db.Payments.SingleAsync(p => p.Id == payment))).Status);
        Assert.Equal(-1189, (await InDbAsync(db => db.Invoices.SingleAsync(i => i.CreditsInvoiceId == invoice))).Total);
        Assert.Equal(1, await InDbAsync(db => db.Ledger.Where(l => l.Source == $"refund:{payment}").Select(l => l.TransactionId).Distinct().CountAsync()));
        Assert.False(await InDbAsync(db => db.Subscriptions.AnyAsync(s => s.AccountId == account && s.Open)));
        Assert.Empty((await Marquee.Billing.BillingModule.VerifyAsync(host.App.Services, CancellationToken.None)).Problems);
    }

    [Fact]
    public async Task Refund_PendingAtStripe_ThatFails_IsMarkedFailed_AndTheInvoiceStaysPaid()
    {
        var id = StripeHost.PendingFailsId;
        var (account, invoice, payment) = await PaidAndRefundPendingAsync(StripeHost.RefundPendingThenFails, "pending-fails");
        host.RefundState(id, "failed");
        var failed = RefundUpdated(id, "failed");
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(failed, Sign(failed, TimeProvider.System.GetUtcNow(), StripeHost.WebhookSecret))).StatusCode);
        await AssertNotRefundedYetAsync(account, invoice, payment, PaymentStatus.RefundFailed);
        Assert.Equal("refund_failed", (await InDbAsync(db => db.Payments.SingleAsync(p => p.Id == payment))).Failure);

        // Not refunded again from here (Stripe would answer the same failed refund for the same key): 409, for finance to resolve at Stripe.
        using var finance = await host.App.ClientWithRolesAsync("finance");
        Assert.Equal(HttpStatusCode.Conflict, (await finance.PostKeyedAsync($"/api/billing/invoices/{invoice}/refund", new { }, "refund-again")).StatusCode);
        Assert.Contains("RefundFailed (refund_failed)", await finance.GetStringAsync("/console/billing/list/payments"), StringComparison.Ordinal);
    }

    private async Task<HttpResponseMessage> PostAsync(string body, string signature)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/billing/webhooks/stripe") { Content = content };
        request.Headers.TryAddWithoutValidation("Stripe-Signature", signature);
        return await host.App.AnonymousClient.SendAsync(request);
    }

    /// <summary>As Stripe signs: <c>t=&lt;unix&gt;,v1=&lt;hex HMAC-SHA256 of "t.payload" with the endpoint secret&gt;</c>.</summary>
    private static string Sign(string payload, DateTimeOffset at, string secret)
    {
        var t = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{t}.{payload}"));
        return $"t={t},v1={Convert.ToHexStringLower(mac)}";
    }
}
