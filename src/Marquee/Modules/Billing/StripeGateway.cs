using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Marquee.Platform.Web;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Stripe;

namespace Marquee.Billing;

/// <summary>
/// Bound from <c>Marquee:Billing:Stripe</c>, used when <c>Marquee:Billing:Gateway</c> is <c>stripe</c>. The key and the
/// webhook secret are never logged nor shown.
/// </summary>
internal sealed class StripeOptions : IValidatableObject
{
    public const string Section = "Marquee:Billing:Stripe";

    /// <summary>The secret API key (<c>sk_live_...</c> or <c>sk_test_...</c>, or a restricted <c>rk_...</c> key).</summary>
    public string? ApiKey { get; set; }

    /// <summary>The webhook endpoint's signing secret (<c>whsec_...</c>).</summary>
    public string? WebhookSecret { get; set; }

    /// <summary>Stripe's API base (tests point it at a recorded-answer server; its host must then be in <c>Marquee:Outbound:AllowedHosts</c>).</summary>
    public Uri ApiBase { get; set; } = new("https://api.stripe.com");

    /// <summary>
    /// Where Stripe sends the payer back after 3-D Secure (absolute). Empty: <c>Marquee:PublicBaseUrl</c> +
    /// <c>/billing/stripe/return</c>; with neither, a charge that needs authentication cannot be completed on this site.
    /// </summary>
    public Uri? ReturnUrl { get; set; }

    /// <summary>Retries of a request that failed on the network (each with the same idempotency key).</summary>
    [Range(0, 5)]
    public int MaxNetworkRetries { get; set; } = 2;

    /// <summary>
    /// How long one HTTP attempt may take before it is abandoned (a blackholed or very slow Stripe). A timed-out attempt is
    /// not retried: the payer is waiting, and answers "payment pending, try again with the same Idempotency-Key".
    /// </summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The circuit breaker in front of Stripe (Microsoft.Extensions.Http.Resilience): when this share of requests
    /// (<c>FailureRatio</c>, at least <c>MinimumThroughput</c> of them within <c>SamplingDuration</c>) failed on the
    /// network, timed out or answered 5xx/408/429, requests fail at once for <c>BreakDuration</c>, then one is let through.
    /// </summary>
    public HttpCircuitBreakerStrategyOptions Circuit { get; set; } = new()
    {
        FailureRatio = 0.5, MinimumThroughput = 5, SamplingDuration = TimeSpan.FromSeconds(30), BreakDuration = TimeSpan.FromSeconds(15),
    };

    /// <summary>True when <c>Marquee:Billing:Gateway</c> is <c>stripe</c> (set from there, not bound).</summary>
    internal bool Enabled { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Enabled)
        {
            yield break;
        }

        if (string.IsNullOrWhiteSpace(ApiKey))
        {
            yield return new ValidationResult("Marquee:Billing:Stripe:ApiKey is required when Marquee:Billing:Gateway is stripe.");
        }

        if (string.IsNullOrWhiteSpace(WebhookSecret))
        {
            yield return new ValidationResult("Marquee:Billing:Stripe:WebhookSecret is required when Marquee:Billing:Gateway is stripe.");
        }

        if (!ApiBase.IsAbsoluteUri || ApiBase.Scheme is not ("https" or "http"))
        {
            yield return new ValidationResult("Marquee:Billing:Stripe:ApiBase must be an absolute http(s) URL.");
        }

        if (AttemptTimeout <= TimeSpan.Zero || AttemptTimeout > TimeSpan.FromSeconds(80))
        {
            yield return new ValidationResult("Marquee:Billing:Stripe:AttemptTimeout must be more than 0 and at most 80 seconds.");
        }

        if (Circuit.FailureRatio is <= 0 or > 1 || Circuit.MinimumThroughput < 2 || Circuit.BreakDuration < TimeSpan.FromMilliseconds(500)
            || Circuit.SamplingDuration < TimeSpan.FromMilliseconds(500))
        {
            yield return new ValidationResult("Marquee:Billing:Stripe:Circuit: FailureRatio in (0, 1], MinimumThroughput at least 2, durations at least 0.5 s.");
        }

        if (ReturnUrl is { IsAbsoluteUri: false })
        {
            yield return new ValidationResult("Marquee:Billing:Stripe:ReturnUrl must be an absolute URL.");
        }
    }

    /// <summary>Never the secrets.</summary>
    public override string ToString() => $"Stripe at {ApiBase}";
}

/// <summary>
/// The Stripe adapter of <see cref="IPaymentGateway"/> (Stripe.net): a card is a Stripe PaymentMethod id made in the
/// browser by Stripe.js (or a test id such as <c>pm_card_visa</c>; card numbers never reach Marquee), attached to a new
/// Stripe Customer so that renewals can charge it off-session; a charge is a PaymentIntent created and confirmed at
/// once with our charge's idempotency key as Stripe's <c>Idempotency-Key</c>; <c>requires_action</c> (3-D Secure) is our
/// challenge: the payer follows <c>next_action.redirect_to_url</c> and comes back to <c>/billing/stripe/return</c>;
/// a decline (HTTP 402 <c>card_error</c>) is a failed charge; a refund is a Refund of the PaymentIntent. Requests go
/// through the SSRF-guarded outbound client (<see cref="OutboundHttp"/>) behind a per-attempt timeout and a circuit
/// breaker (<see cref="HttpClientName"/>); a network failure, a timeout or an open circuit is a
/// <see cref="GatewayUnavailableException"/>. Every POST carries an idempotency key (customers too), so a retry after a lost
/// answer never creates a second charge or customer.
/// </summary>
internal sealed partial class StripeGateway : IPaymentGateway, IDisposable
{
    /// <summary>Separates the customer and the payment method in the token kept on a subscription.</summary>
    private const char Separator = '/';

    /// <summary>The named HttpClient (SSRF-guarded handler, timeout and circuit breaker) Stripe.net sends through.</summary>
    public const string HttpClientName = "stripe";

    private readonly StripeClient client;
    private readonly HttpClient http;
    private readonly StripeOptions options;
    private readonly string? returnUrl;

    public StripeGateway(IOptions<StripeOptions> options, IHttpClientFactory clients, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clients);
        ArgumentNullException.ThrowIfNull(configuration);
        this.options = options.Value;
        http = clients.CreateClient(HttpClientName);
        http.Timeout = this.options.AttemptTimeout + TimeSpan.FromSeconds(5); // the resilience handler's timeout comes first
        client = new StripeClient(new StripeClientOptions
        {
            ApiKey = this.options.ApiKey,
            ApiBase = this.options.ApiBase.ToString().TrimEnd('/'),
            HttpClient = new SystemNetHttpClient(http, this.options.MaxNetworkRetries, appInfo: null, enableTelemetry: false),
        });
        returnUrl = this.options.ReturnUrl?.ToString()
            ?? (configuration["Marquee:PublicBaseUrl"] is { Length: > 0 } publicBase ? publicBase.TrimEnd('/') + "/billing/stripe/return" : null);
    }

    public Task<string?> TokenizeAsync(string card, CancellationToken cancellationToken) =>
        TokenizeAsync(card, "customer:" + Guid.NewGuid().ToString("N"), cancellationToken);

    /// <summary>A Stripe Customer for the payment method, created with this idempotency key (the same key: the same customer).</summary>
    public async Task<string?> TokenizeAsync(string card, string idempotencyKey, CancellationToken cancellationToken)
    {
        if (!MethodPattern().IsMatch(card ?? ""))
        {
            return null; // not a Stripe PaymentMethod id: Marquee never takes card numbers for Stripe
        }

        try
        {
            var customer = await GuardAsync(() => new CustomerService(client).CreateAsync(new CustomerCreateOptions
            {
                PaymentMethod = card,
                InvoiceSettings = new CustomerInvoiceSettingsOptions { DefaultPaymentMethod = card },
            }, new RequestOptions { IdempotencyKey = idempotencyKey }, cancellationToken), cancellationToken);
            return customer.Id + Separator + card;
        }
        catch (StripeException ex) when (ex.StripeError?.Type is "card_error" or "invalid_request_error")
        {
            return null; // the payment method is unknown or refused
        }
    }

    /// <summary>
    /// Runs a Stripe call; a failure to reach Stripe (refused, reset, timed out, circuit open) becomes a
    /// <see cref="GatewayUnavailableException"/>. Whether Stripe acted is then unknown: the same idempotency key sent again tells.
    /// </summary>
    private static async Task<T> GuardAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (Unreachable(ex, cancellationToken))
        {
            throw new GatewayUnavailableException("Stripe did not answer: " + ex.GetType().Name, ex);
        }
    }

    internal static bool Unreachable(Exception? ex, CancellationToken cancellationToken)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            // The resilience pipeline's refusals (timed out, circuit open) are Polly.Core's exceptions (named by assembly:
            // the older Polly, which another package brings, has types of the same names).
            if (ex is HttpRequestException || ex.GetType().Assembly == typeof(ResiliencePipeline).Assembly
                || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                return true;
            }
        }

        return false;
    }

    public async Task<GatewayCharge> ChargeAsync(string idempotencyKey, long amount, string currency, string method, bool onSession, CancellationToken cancellationToken)
    {
        var (customer, paymentMethod) = Split(method);
        var create = new PaymentIntentCreateOptions
        {
            Amount = amount,
            Currency = currency.ToLowerInvariant(),
            Customer = customer,
            PaymentMethod = paymentMethod,
            Confirm = true,
            OffSession = onSession ? null : true,
            ReturnUrl = onSession ? returnUrl : null,

            // Without a return URL Stripe refuses methods that redirect; 3-D Secure is then left to Stripe.js.
            AutomaticPaymentMethods = onSession && returnUrl is not null ? null : new PaymentIntentAutomaticPaymentMethodsOptions { Enabled = true, AllowRedirects = "never" },
            Metadata = new Dictionary<string, string> { ["marquee_key"] = idempotencyKey.Length > 500 ? idempotencyKey[..500] : idempotencyKey },
            Expand = ["latest_charge.balance_transaction"],
        };
        try
        {
            var intent = await GuardAsync(() => new PaymentIntentService(client).CreateAsync(create, new RequestOptions { IdempotencyKey = idempotencyKey }, cancellationToken), cancellationToken);
            return View(intent);
        }
        catch (StripeException ex) when (ex.StripeError?.Type == "card_error")
        {
            // A decline answers 402 with the PaymentIntent it left in requires_payment_method.
            var failure = ex.StripeError.DeclineCode is "insufficient_funds" ? "insufficient_funds"
                : ex.StripeError.Code is "authentication_required" ? "authentication_failed"
                : "card_declined";
            var id = ex.StripeError.PaymentIntent?.Id ?? ex.StripeError.Charge ?? "pi_failed_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(idempotencyKey)))[..24];
            return new GatewayCharge(id, ChargeState.Failed, amount, 0, currency, failure, null);
        }
    }

    public async Task<GatewayCharge?> GetChargeAsync(string chargeId, CancellationToken cancellationToken)
    {
        if (!chargeId.StartsWith("pi_", StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            var intent = await GuardAsync(() => new PaymentIntentService(client).GetAsync(chargeId, new PaymentIntentGetOptions { Expand = ["latest_charge.balance_transaction"] }, cancellationToken: cancellationToken), cancellationToken);
            var view = View(intent);
            return view.State == ChargeState.Refunded ? await RefundedViewAsync(view, cancellationToken) : view;
        }
        catch (StripeException ex) when (ex.HttpStatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<GatewayCharge> RefundAsync(string chargeId, CancellationToken cancellationToken)
    {
        var refund = await GuardAsync(() => new RefundService(client).CreateAsync(new RefundCreateOptions { PaymentIntent = chargeId },
            new RequestOptions { IdempotencyKey = "refund:" + chargeId }, cancellationToken), cancellationToken);
        return new GatewayCharge(chargeId, StateOf(refund), refund.Amount, 0, (refund.Currency ?? "").ToUpperInvariant(), refund.FailureReason, null);
    }

    /// <summary>
    /// A refund's state as a charge's: <c>succeeded</c> is refunded; <c>pending</c> and <c>requires_action</c> are under way
    /// (nothing is credited until they succeed); <c>failed</c> and <c>canceled</c> leave the charge paid.
    /// </summary>
    internal static ChargeState StateOf(Refund refund) => refund.Status switch
    {
        "succeeded" => ChargeState.Refunded,
        "pending" or "requires_action" => ChargeState.RefundPending,
        _ => ChargeState.Succeeded,
    };

    /// <summary>
    /// A PaymentIntent whose charge shows an amount refunded: the state of its refunds decides (Stripe counts a pending refund
    /// in <c>amount_refunded</c>): refunded once one succeeded, under way while one is pending, else paid (the refund failed).
    /// </summary>
    private async Task<GatewayCharge> RefundedViewAsync(GatewayCharge view, CancellationToken cancellationToken)
    {
        var refunds = await GuardAsync(() => new RefundService(client).ListAsync(new RefundListOptions { PaymentIntent = view.Id, Limit = 10 }, cancellationToken: cancellationToken), cancellationToken);
        var states = refunds.Data.Select(StateOf).ToList();
        if (states.Count == 0 || states.Contains(ChargeState.Refunded))
        {
            return view;
        }

        return states.Contains(ChargeState.RefundPending)
            ? view with { State = ChargeState.RefundPending }
            : view with { State = ChargeState.Succeeded, Failure = refunds.Data.Select(r => r.FailureReason).FirstOrDefault(f => f is not null) ?? "refund_failed" };
    }

    /// <summary>Stripe's state of a PaymentIntent as ours; the fee from its charge's balance transaction.</summary>
    internal static GatewayCharge View(PaymentIntent intent)
    {
        var charge = intent.LatestCharge;
        var fee = charge?.BalanceTransaction?.Fee ?? 0;
        var currency = (intent.Currency ?? "").ToUpperInvariant();
        if (charge is { Refunded: true } || (charge is not null && charge.AmountRefunded >= intent.Amount && intent.Amount > 0))
        {
            return new GatewayCharge(intent.Id, ChargeState.Refunded, intent.Amount, fee, currency, null, null);
        }

        return intent.Status switch
        {
            "succeeded" => new GatewayCharge(intent.Id, ChargeState.Succeeded, intent.Amount, fee, currency, null, null),
            "requires_action" => new GatewayCharge(intent.Id, ChargeState.RequiresAction, intent.Amount, 0, currency, null, intent.NextAction?.RedirectToUrl?.Url),
            "processing" or "requires_confirmation" or "requires_capture" => new GatewayCharge(intent.Id, ChargeState.RequiresAction, intent.Amount, 0, currency, null, null),
            _ => new GatewayCharge(intent.Id, ChargeState.Failed, intent.Amount, 0, currency, Failure(intent.LastPaymentError), null),
        };
    }

    private static string Failure(StripeError? error) => error switch
    {
        { DeclineCode: "insufficient_funds" } => "insufficient_funds",
        { Code: "payment_intent_authentication_failure" or "authentication_required" } => "authentication_failed",
        null => "canceled",
        _ => "card_declined",
    };

    private static (string? Customer, string PaymentMethod) Split(string method)
    {
        var at = method.IndexOf(Separator, StringComparison.Ordinal);
        return at < 0 ? (null, method) : (method[..at], method[(at + 1)..]);
    }

    public void Dispose() => http.Dispose();

    /// <summary>A Stripe PaymentMethod id: <c>pm_</c> and letters, digits or underscores (test ids such as <c>pm_card_visa</c> too).</summary>
    [GeneratedRegex("^pm_[A-Za-z0-9_]{1,60}$")]
    private static partial Regex MethodPattern();

    /// <summary>For the docs and logs: the configured base, never the key.</summary>
    public override string ToString() => options.ToString();

    /// <summary>
    /// The named client Stripe.net sends through: the SSRF-guarded handler, then (outermost first) a circuit breaker and a
    /// per-attempt timeout from <see cref="StripeOptions"/>. No retry here: Stripe.net retries network failures itself with
    /// the request's idempotency key (<see cref="StripeOptions.MaxNetworkRetries"/>).
    /// </summary>
    public static void AddHttpClient(IServiceCollection services)
    {
        services.AddHttpClient(HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundHttp>().CreateHandler())
            .AddResilienceHandler(HttpClientName, (pipeline, context) =>
            {
                var stripe = context.ServiceProvider.GetRequiredService<IOptions<StripeOptions>>().Value;
                pipeline.AddCircuitBreaker(stripe.Circuit)
                    .AddTimeout(new HttpTimeoutStrategyOptions { Timeout = stripe.AttemptTimeout });
            });
    }
}
