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

        var refund = Assert.Single(host.Server.LogEntries, e => e.RequestMessage.Path == "/v1/refunds");
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
