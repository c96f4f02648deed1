using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Marquee.Platform.Web;
using Microsoft.Extensions.Options;
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
/// through the SSRF-guarded outbound client (<see cref="OutboundHttp"/>).
/// </summary>
internal sealed partial class StripeGateway : IPaymentGateway, IDisposable
{
    /// <summary>Separates the customer and the payment method in the token kept on a subscription.</summary>
    private const char Separator = '/';

    private readonly StripeClient client;
    private readonly HttpClient http;
    private readonly StripeOptions options;
    private readonly string? returnUrl;

    public StripeGateway(IOptions<StripeOptions> options, OutboundHttp outbound, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(outbound);
        ArgumentNullException.ThrowIfNull(configuration);
        this.options = options.Value;
        http = outbound.CreateClient();
        http.Timeout = TimeSpan.FromSeconds(80);
        client = new StripeClient(new StripeClientOptions
        {
            ApiKey = this.options.ApiKey,
            ApiBase = this.options.ApiBase.ToString().TrimEnd('/'),
            HttpClient = new SystemNetHttpClient(http, this.options.MaxNetworkRetries, appInfo: null, enableTelemetry: false),
        });
        returnUrl = this.options.ReturnUrl?.ToString()
            ?? (configuration["Marquee:PublicBaseUrl"] is { Length: > 0 } publicBase ? publicBase.TrimEnd('/') + "/billing/stripe/return" : null);
    }

    public async Task<string?> TokenizeAsync(string card, CancellationToken cancellationToken)
    {
        if (!MethodPattern().IsMatch(card ?? ""))
        {
            return null; // not a Stripe PaymentMethod id: Marquee never takes card numbers for Stripe
        }

        try
        {
            var customer = await new CustomerService(client).CreateAsync(new CustomerCreateOptions
            {
                PaymentMethod = card,
                InvoiceSettings = new CustomerInvoiceSettingsOptions { DefaultPaymentMethod = card },
            }, cancellationToken: cancellationToken);
            return customer.Id + Separator + card;
        }
        catch (StripeException ex) when (ex.StripeError?.Type is "card_error" or "invalid_request_error")
        {
            return null; // the payment method is unknown or refused
        }
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
            var intent = await new PaymentIntentService(client).CreateAsync(create, new RequestOptions { IdempotencyKey = idempotencyKey }, cancellationToken);
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
            var intent = await new PaymentIntentService(client).GetAsync(chargeId, new PaymentIntentGetOptions { Expand = ["latest_charge.balance_transaction"] }, cancellationToken: cancellationToken);
            return View(intent);
        }
        catch (StripeException ex) when (ex.HttpStatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<GatewayCharge> RefundAsync(string chargeId, CancellationToken cancellationToken)
    {
        var refund = await new RefundService(client).CreateAsync(new RefundCreateOptions { PaymentIntent = chargeId },
            new RequestOptions { IdempotencyKey = "refund:" + chargeId }, cancellationToken);
        var state = refund.Status is "succeeded" or "pending" ? ChargeState.Refunded : ChargeState.Succeeded;
        return new GatewayCharge(chargeId, state, refund.Amount, 0, (refund.Currency ?? "").ToUpperInvariant(), refund.FailureReason, null);
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
}
