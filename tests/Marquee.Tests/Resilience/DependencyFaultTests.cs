using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marquee.Billing.Data;
using Marquee.Tests.Billing;
using Marquee.Tests.Billing.Stripe;
using Marquee.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Marquee.Billing;
using Microsoft.Extensions.DependencyInjection;
using Polly.CircuitBreaker;
using WireMock.Matchers;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Marquee.Tests.Resilience;

/// <summary>
/// R27 for Stripe: Marquee reaches the recorded Stripe API (WireMock.Net) through a <see cref="CuttingProxy"/>, with a
/// one-second attempt timeout, one network retry and a circuit breaker that opens after two failures in two requests.
/// </summary>
public sealed class StripeFaultHost : IAsyncLifetime
{
    public const string Blackholed = "pm_card_amex";
    public const string BlackholedId = "pi_3QkTbhLkdIwHu7ix0Bh1Ol3E";
    public const string Lost = "pm_card_discover";
    public const string LostId = "pi_3QkTlaLkdIwHu7ix0La2Ns4W";

    public WireMockServer Server { get; private set; } = null!;

    public CuttingProxy Proxy { get; private set; } = null!;

    public MarqueeApp App { get; private set; } = null!;

    /// <summary>Closes the circuit (and forgets its failures) before each test, whatever the test before it left.</summary>
    public CircuitBreakerManualControl Circuit { get; } = new();

    public async Task InitializeAsync()
    {
        Server = WireMockServer.Start();
        Server.Given(Request.Create().WithPath("/v1/customers").UsingPost()).RespondWith(Json(StripeHost.Fixture("customer.json")));
        foreach (var (method, id) in new[] { (Blackholed, BlackholedId), (Lost, LostId) })
        {
            var succeeded = StripeHost.Fixture("payment_intent_succeeded.json").Replace(StripeHost.SucceededId, id, StringComparison.Ordinal);
            Server.Given(Request.Create().WithPath("/v1/payment_intents").UsingPost().WithBody(new RegexMatcher(StripeHost.MethodPattern(method)))).RespondWith(Json(succeeded));
            Server.Given(Request.Create().WithPath($"/v1/payment_intents/{id}").UsingGet()).RespondWith(Json(succeeded));
        }

        Proxy = new CuttingProxy(new Uri($"http://127.0.0.1:{Server.Port}"));
        App = await MarqueeApp.StartAsync(configure: c =>
        {
            c["Marquee:Billing:Gateway"] = "stripe";
            c["Marquee:Billing:Stripe:ApiKey"] = StripeHost.ApiKey;
            c["Marquee:Billing:Stripe:WebhookSecret"] = StripeHost.WebhookSecret;
            c["Marquee:Billing:Stripe:ApiBase"] = Proxy.Address.ToString();
            c["Marquee:Billing:Stripe:MaxNetworkRetries"] = "1";
            c["Marquee:Billing:Stripe:AttemptTimeout"] = "00:00:01";
            c["Marquee:Billing:Stripe:Circuit:FailureRatio"] = "0.5";
            c["Marquee:Billing:Stripe:Circuit:MinimumThroughput"] = "2";
            c["Marquee:Billing:Stripe:Circuit:SamplingDuration"] = "00:00:30";
            c["Marquee:Billing:Stripe:Circuit:BreakDuration"] = "00:00:01";
            c["Marquee:Billing:TaxRates:DE"] = "0.19";
            c["Marquee:Outbound:AllowedHosts:0"] = Proxy.HostAndPort;
        }, services: s => s.PostConfigure<StripeOptions>(o => o.Circuit.ManualControl = Circuit));
        await App.CreatePlanAsync("basic", "Monthly", 999);
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Proxy.DisposeAsync();
        Server.Stop();
        Server.Dispose();
    }

    private static IResponseBuilder Json(string body) =>
        Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithHeader("Request-Id", "req_fixture").WithBody(body);
}

/// <summary>
/// R27, Stripe blackholed, reset or answering into the void: checkout answers 503 "Payment pending" within the attempt
/// timeout (never 500, never the 80 s Stripe.net default), stores nothing, the circuit opens and fails fast, and the same
/// Idempotency-Key sent again after the network heals charges exactly once (Stripe saw one key per charge and per
/// customer); a webhook for a charge Marquee did not record yet is refused for Stripe to send again, and applied then.
/// </summary>
public sealed class StripeFaultTests(StripeFaultHost host) : IClassFixture<StripeFaultHost>
{
    private static object Checkout(string card) => new { plan = "basic", currency = "EUR", card, country = "DE" };

    private Task<T> InDbAsync<T>(Func<BillingDb, Task<T>> read) => host.App.ScopedAsync(sp => read(sp.GetRequiredService<BillingDb>()));

    [Fact]
    public async Task Blackholed_CheckoutIsPendingWithinTheTimeout_CircuitOpens_RetryAfterHealingChargesOnce()
    {
        await host.Circuit.CloseAsync();
        var (account, cookie) = await host.App.AccountWithRolesAsync();
        using var client = host.App.ClientWith(cookie);
        host.Proxy.Mode = FaultMode.Blackhole;
        try
        {
            foreach (var key in new[] { "bh-1", "bh-2" })
            {
                var watch = Stopwatch.StartNew();
                var response = await client.PostKeyedAsync("/api/billing/checkout", Checkout(StripeFaultHost.Blackholed), key);
                await AssertPendingAsync(response);
                Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(20)); // the 1 s attempt timeout, not Stripe.net's 80 s
            }

            // Two failures out of two: the circuit is open, the next checkout fails without touching the network.
            var connections = host.Proxy.Connections;
            await AssertPendingAsync(await client.PostKeyedAsync("/api/billing/checkout", Checkout(StripeFaultHost.Blackholed), "bh-3"));
            Assert.Equal(connections, host.Proxy.Connections);

            Assert.False(await InDbAsync(db => db.Payments.AnyAsync(p => p.AccountId == account)));
            Assert.False(await InDbAsync(db => db.Invoices.AnyAsync(i => i.AccountId == account)));
            Assert.False(await InDbAsync(db => db.Subscriptions.AnyAsync(s => s.AccountId == account)));
        }
        finally
        {
            host.Proxy.Mode = FaultMode.Pass;
        }

        // Healed: the client sends the first request again; after the break the circuit lets it through.
        var done = await Poll.UntilAsync(() => client.PostKeyedAsync("/api/billing/checkout", Checkout(StripeFaultHost.Blackholed), "bh-1"),
            r => r.StatusCode != HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(20), "checkout after healing");
        var body = await done.JsonAsync(HttpStatusCode.Created);
        Assert.Equal("succeeded", body.GetProperty("status").GetString());

        var charges = Posts("/v1/payment_intents", StripeFaultHost.Blackholed);
        Assert.Equal([$"checkout:{account:N}:bh-1"], charges.Select(Key).Distinct());
        Assert.Equal(StripeFaultHost.BlackholedId, (await InDbAsync(db => db.Payments.SingleAsync(p => p.AccountId == account))).GatewayRef);
    }

    [Fact]
    public async Task AnswersLost_PendingThenSameKeyChargesOnce_CustomerCreatedOnce_WebhookReconcilesLater()
    {
        await host.Circuit.CloseAsync();
        var (account, cookie) = await host.App.AccountWithRolesAsync();
        using var client = host.App.ClientWith(cookie);
        host.Proxy.LoseAnswersTo = "POST /v1/payment_intents";
        host.Proxy.Mode = FaultMode.LoseAnswers;
        try
        {
            // Stripe creates the customer and the charge; Marquee never hears that the charge was made.
            var watch = Stopwatch.StartNew();
            await AssertPendingAsync(await client.PostKeyedAsync("/api/billing/checkout", Checkout(StripeFaultHost.Lost), "lost-1"));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"pending within the bounded retries, took {watch.Elapsed}");
            Assert.NotEmpty(Posts("/v1/payment_intents", StripeFaultHost.Lost));
            Assert.False(await InDbAsync(db => db.Payments.AnyAsync(p => p.AccountId == account)));
        }
        finally
        {
            host.Proxy.Mode = FaultMode.Pass;
            host.Proxy.LoseAnswersTo = null;
        }

        // Stripe's webhook for a charge Marquee has not recorded: refused (not recorded), so that Stripe sends it again
        // (409; 503 while the circuit is still open).
        var evt = StripeHost.Fixture("event_payment_intent_succeeded.json").Replace(StripeHost.ActionId, StripeFaultHost.LostId, StringComparison.Ordinal)
            .Replace("evt_3QkT5pLkdIwHu7ix0Ab1Cd2E", "evt_3QkTlaLkdIwHu7ix0Ev9Lo5T", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, (await WebhookAsync(evt)).StatusCode);
        Assert.False(await InDbAsync(db => db.Webhooks.AnyAsync(w => w.EventId == "evt_3QkTlaLkdIwHu7ix0Ev9Lo5T")));

        // The client sends the same request again: Stripe answers the charge it already made for that key.
        var done = await Poll.UntilAsync(() => client.PostKeyedAsync("/api/billing/checkout", Checkout(StripeFaultHost.Lost), "lost-1"),
            r => r.StatusCode != HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(20), "checkout after healing");
        Assert.Equal("succeeded", (await done.JsonAsync(HttpStatusCode.Created)).GetProperty("status").GetString());

        var charges = Posts("/v1/payment_intents", StripeFaultHost.Lost);
        Assert.True(charges.Count >= 2, $"the charge request reached Stripe {charges.Count} time(s)");
        Assert.Equal([$"checkout:{account:N}:lost-1"], charges.Select(Key).Distinct()); // one key: one charge at Stripe

        // The customer (created before the lost charge, and again on the retry) carries a key too: one customer at Stripe.
        var customers = Server.LogEntries.Where(e => e.RequestMessage.Path == "/v1/customers" && Key(e).StartsWith($"checkout:{account:N}:", StringComparison.Ordinal)).ToList();
        Assert.True(customers.Count >= 2, $"the customer request reached Stripe {customers.Count} time(s) with our key");
        Assert.Equal([$"checkout:{account:N}:lost-1:card"], customers.Select(Key).Distinct());

        // Stripe sends the webhook again: now it is applied, once.
        var applied = await (await WebhookAsync(evt)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("processed", applied.GetProperty("result").GetString());
        var payment = await InDbAsync(db => db.Payments.SingleAsync(p => p.AccountId == account));
        Assert.Equal(PaymentStatus.Succeeded, payment.Status);
        Assert.Equal(1, await InDbAsync(db => db.Ledger.Where(l => l.Source == $"payment:{payment.Id}").Select(l => l.TransactionId).Distinct().CountAsync()));
    }

    private WireMockServer Server => host.Server;

    private List<WireMock.Logging.ILogEntry> Posts(string path, string paymentMethod) =>
        [.. Server.LogEntries.Where(e => e.RequestMessage.Path == path && e.RequestMessage.Method == "POST"
            && Regex.IsMatch(e.RequestMessage.Body ?? "", StripeHost.MethodPattern(paymentMethod)))];

    private static string Key(WireMock.Logging.ILogEntry entry) =>
        entry.RequestMessage.Headers is { } headers && headers.TryGetValue("Idempotency-Key", out var values) ? values.Single() : "";

    private static async Task AssertPendingAsync(HttpResponseMessage response)
    {
        var problem = await response.JsonAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Payment pending", problem.GetProperty("title").GetString());
        Assert.NotNull(response.Headers.RetryAfter);
    }

    private async Task<HttpResponseMessage> WebhookAsync(string body)
    {
        var t = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(StripeHost.WebhookSecret), Encoding.UTF8.GetBytes($"{t}.{body}"));
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/billing/webhooks/stripe") { Content = content };
        request.Headers.TryAddWithoutValidation("Stripe-Signature", $"t={t},v1={Convert.ToHexStringLower(mac)}");
        return await host.App.AnonymousClient.SendAsync(request);
    }
}

/// <summary>
/// R27 for SMTP: the mail server blackholed behind a <see cref="CuttingProxy"/>. Sign-up answers at once (the message is
/// queued durably, not sent in the request); the outbox's delivery attempts time out after the configured second and are
/// retried; once the network heals the message arrives, once, and its code completes the sign-up.
/// </summary>
public sealed class SmtpFaultTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task MailServerBlackholed_SignUpAnswersAtOnce_MailArrivesOnceWhenHealed()
    {
        var total = Stopwatch.StartNew();
        await using var sink = new SmtpSink();
        await using var proxy = new CuttingProxy(new Uri($"http://127.0.0.1:{sink.Address.Port}"), FaultMode.Blackhole);
        await using var app = await MarqueeApp.StartAsync(c =>
        {
            c["Marquee:Identity:Mail:SmtpHost"] = "127.0.0.1";
            c["Marquee:Identity:Mail:SmtpPort"] = proxy.Port.ToString(CultureInfo.InvariantCulture);
            c["Marquee:Identity:Mail:SmtpSecurity"] = "None";
            c["Marquee:Identity:Mail:SmtpTimeout"] = "00:00:01";
            c["Marquee:Events:MaxRetryDelay"] = "00:00:00.500";
        });
        var email = $"outage-{Guid.NewGuid():N}@example.com";
        output.WriteLine($"host started at {total.Elapsed}");

        var watch = Stopwatch.StartNew();
        var started = await app.AnonymousClient.PostAsJsonAsync("/api/identity/signup", new { email, password = "correct horse battery staple", acceptTerms = true, acceptPrivacy = true });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        // Sent in the request, as before, it would wait for MailKit's 2-minute timeout (the test client gives up at 100 s).
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"sign-up waited for the mail server: {watch.Elapsed}");

        // Delivery is attempted (and times out) while the server is unreachable; nothing arrives.
        output.WriteLine($"signed up at {total.Elapsed}");
        await Poll.UntilAsync(() => Task.FromResult(proxy.Connections), n => n >= 2, TimeSpan.FromSeconds(20), "two delivery attempts");
        Assert.Empty(sink.Messages);
        output.WriteLine($"two attempts at {total.Elapsed}");

        proxy.Mode = FaultMode.Pass;
        var mails = await Poll.UntilAsync(() => Task.FromResult(sink.Messages), m => m.Count > 0, TimeSpan.FromSeconds(20), "the mail after healing");
        output.WriteLine($"delivered at {total.Elapsed}");
        var mail = Assert.Single(mails);
        Assert.Contains($"To: {email}", mail, StringComparison.OrdinalIgnoreCase);
        var code = Regex.Match(mail, @"Your Marquee code: (\d{6})").Groups[1].Value;

        using var client = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = app.BaseAddress };
        var verified = await client.PostAsJsonAsync("/api/identity/signup/verify", new { email, code });
        Assert.Equal(HttpStatusCode.NoContent, verified.StatusCode);
    }
}

/// <summary>The fault proxy itself, in front of a WireMock server: each mode does what it says, switched at runtime.</summary>
public sealed class FaultProxyTests
{
    [Fact]
    public async Task Modes_PassDelayBlackholeResetLoseAnswers_SwitchAtRuntime()
    {
        using var server = WireMockServer.Start();
        server.Given(Request.Create().UsingGet()).RespondWith(Response.Create().WithStatusCode(200).WithBody("ok"));
        await using var proxy = new CuttingProxy(new Uri($"http://127.0.0.1:{server.Port}"));
        using var http = new HttpClient { BaseAddress = proxy.Address, Timeout = TimeSpan.FromSeconds(60) };

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/live")).StatusCode);

        proxy.Mode = FaultMode.Delay;
        proxy.Delay = TimeSpan.FromMilliseconds(300);
        var watch = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/live")).StatusCode);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(550), $"two delayed chunks, took {watch.Elapsed}");

        proxy.Mode = FaultMode.Blackhole; // the pooled connection too: no answer, the caller gives up
        using (var patience = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => http.GetAsync("/live", patience.Token));
        }

        Assert.Equal(2, server.LogEntries.Count());

        proxy.Mode = FaultMode.Reset;
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/live"));
        Assert.Equal(2, server.LogEntries.Count());

        proxy.Mode = FaultMode.LoseAnswers;
        proxy.LoseAnswersTo = "/ready";
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/live")).StatusCode);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/ready"));
        Assert.Contains(server.LogEntries, e => e.RequestMessage.Path == "/ready"); // it arrived; its answer did not

        proxy.Mode = FaultMode.Pass;
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/live")).StatusCode);
        Assert.True(proxy.Cuts >= 2);
    }
}

/// <summary>
/// R27 for an external OpenID Connect provider: its metadata endpoint (WireMock) behind a blackholed
/// <see cref="CuttingProxy"/>. The sign-in button answers within the provider's one-second timeout with a redirect to the
/// sign-in page saying the provider cannot be reached (never a 500, never ASP.NET Core's 60 s), and goes to the provider
/// once the network heals.
/// </summary>
public sealed partial class IdpFaultTests
{
    [Fact]
    public async Task MetadataBlackholed_SignInButtonSaysUnavailableInTime_WorksWhenHealed()
    {
        using var idp = WireMockServer.Start();
        await using var proxy = new CuttingProxy(new Uri($"http://127.0.0.1:{idp.Port}"), FaultMode.Blackhole);
        var issuer = proxy.Address.ToString().TrimEnd('/');
        idp.Given(Request.Create().WithPath("/.well-known/openid-configuration").UsingGet()).RespondWith(Response.Create().WithStatusCode(200)
            .WithHeader("Content-Type", "application/json").WithBody(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["issuer"] = issuer, ["authorization_endpoint"] = issuer + "/connect/authorize", ["token_endpoint"] = issuer + "/connect/token",
                ["jwks_uri"] = issuer + "/.well-known/jwks", ["response_types_supported"] = new[] { "code" }, ["subject_types_supported"] = new[] { "public" },
                ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            })));
        idp.Given(Request.Create().WithPath("/.well-known/jwks").UsingGet()).RespondWith(Response.Create().WithStatusCode(200)
            .WithHeader("Content-Type", "application/json").WithBody("{\"keys\":[]}"));
        await using var site = await MarqueeApp.StartAsync(s =>
        {
            s["Marquee:Identity:External:Upstream:Authority"] = issuer;
            s["Marquee:Identity:External:Upstream:ClientId"] = "marquee-site";
            s["Marquee:Identity:External:Upstream:AllowHttp"] = "true";
            s["Marquee:Identity:External:Upstream:Timeout"] = "00:00:01";
            s["Marquee:Outbound:AllowedHosts:0"] = proxy.HostAndPort;
        });
        // A cookie jar by hand: the __Host- cookies are Secure, which HttpClient's container would not send over http.
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = site.BaseAddress };

        var watch = Stopwatch.StartNew();
        var refused = await PressButtonAsync(http);
        Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
        Assert.Equal("/signin?external=unavailable", refused.Headers.Location?.OriginalString);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"the button waited {watch.Elapsed} (ASP.NET Core's default is 60 s)");
        var page = await (await http.GetAsync("/signin?external=unavailable")).Content.ReadAsStringAsync();
        Assert.Contains("cannot be reached at the moment", page, StringComparison.Ordinal);

        proxy.Mode = FaultMode.Pass;
        var healed = await Poll.UntilAsync(() => PressButtonAsync(http), r => r.Headers.Location?.IsAbsoluteUri == true, TimeSpan.FromSeconds(20), "the redirect to the provider");
        Assert.StartsWith(issuer + "/connect/authorize?", healed.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> PressButtonAsync(HttpClient http)
    {
        using var page = await http.GetAsync("/signin");
        var cookies = string.Join("; ", page.Headers.TryGetValues("Set-Cookie", out var set) ? set.Select(c => c.Split(';')[0]) : []);
        var token = AntiforgeryField().Match(await page.Content.ReadAsStringAsync()).Groups[1].Value;
        using var post = new HttpRequestMessage(HttpMethod.Post, "/signin/external/Upstream")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["returnUrl"] = "/account", ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token) }),
        };
        post.Headers.Add("Cookie", cookies);
        return await http.SendAsync(post);
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
