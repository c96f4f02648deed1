using Marquee.Platform.Web;
using Microsoft.Extensions.Options;
using Stripe;

namespace Marquee.Billing;

/// <summary>
/// Stripe's webhooks (<c>POST /api/billing/webhooks/stripe</c>): the <c>Stripe-Signature</c> header is checked by
/// Stripe.net's own <see cref="EventUtility.ConstructEvent(string, string, string, long, long, bool)"/> (HMAC-SHA256 of
/// <c>t.body</c> with the endpoint secret, the timestamp within <c>Marquee:Billing:WebhookToleranceSeconds</c> of
/// <see cref="TimeProvider"/>'s now); the event then goes through the same inbox as the sandbox's
/// (<see cref="WebhookReceiver.ApplyAsync"/>): one effect per event id, committed with its receipt, the PaymentIntent
/// re-read from Stripe so that events converge in any order.
/// </summary>
internal sealed partial class StripeWebhooks(WebhookReceiver receiver, IOptions<StripeOptions> stripe, IOptions<BillingOptions> billing, TimeProvider time, ILogger<StripeWebhooks> logger)
{
    public const string Header = "Stripe-Signature";

    public async Task<WebhookReceiver.Result> ReceiveAsync(string body, string? signature, CancellationToken cancellationToken)
    {
        if (!stripe.Value.Enabled)
        {
            return new WebhookReceiver.Result(404, "Stripe is not the configured gateway");
        }

        var (evt, problem) = Verify(body, signature, stripe.Value.WebhookSecret ?? "", billing.Value.WebhookToleranceSeconds, time.GetUtcNow().ToUnixTimeSeconds(), logger);
        if (evt is null)
        {
            return new WebhookReceiver.Result(400, problem!);
        }

        var paymentIntent = evt.Data?.Object switch
        {
            PaymentIntent pi => pi.Id,
            Charge c => c.PaymentIntentId,
            Refund r => r.PaymentIntentId,
            _ => null,
        };
        if (string.IsNullOrEmpty(evt.Id) || evt.Id.Length > 100 || string.IsNullOrEmpty(evt.Type))
        {
            return new WebhookReceiver.Result(400, "malformed event");
        }

        if (string.IsNullOrEmpty(paymentIntent))
        {
            return new WebhookReceiver.Result(200, "ignored"); // an event type Marquee does not act on
        }

        return await receiver.ApplyAsync(evt.Id, evt.Type, paymentIntent, cancellationToken);
    }

    /// <summary>
    /// The event a <c>Stripe-Signature</c>d body carries, by Stripe.net (<see cref="EventUtility.ValidateSignature(string, string, string, long, long)"/>
    /// then <see cref="EventUtility.ParseEvent(string, bool)"/>, what <c>ConstructEvent</c> does); null with the reason
    /// (a 400) for a bad or stale signature or a body that is not an event.
    /// </summary>
    /// <remarks>
    /// Found by the R29 fuzz campaign (fuzz/run.sh, target stripe-webhook), each of which answered 500 before: Stripe.net
    /// reads the signed <c>t=</c> with <c>Convert.ToInt32</c> (a t after 2038 or not a number throws Format/Overflow);
    /// and reading the event (System.Text.Json since Stripe.net 4x, not Newtonsoft) throws JsonException,
    /// InvalidOperationException (a property of another JSON type) or ArgumentException (a key twice) for a signed body
    /// that is not an event of the shape it expects.
    /// </remarks>
    internal static (Event? Event, string? Problem) Verify(string body, string? signature, string secret, long toleranceSeconds, long nowUnixSeconds, ILogger? logger = null)
    {
        try
        {
            EventUtility.ValidateSignature(body, signature ?? "", secret, toleranceSeconds, nowUnixSeconds);
        }
        catch (StripeException ex)
        {
            if (logger is not null)
            {
                Log.Refused(logger, ex.Message); // Stripe.net's message names the problem, never the secret
            }

            return (null, ex.Message.Contains("timestamp", StringComparison.OrdinalIgnoreCase) ? "timestamp outside the tolerance" : "bad signature");
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            return (null, "malformed signature");
        }

        try
        {
            return (EventUtility.ParseEvent(body, throwOnApiVersionMismatch: false), null);
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or Newtonsoft.Json.JsonException or StripeException
                                       or InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            return (null, "malformed event");
        }
    }

    /// <summary>The Stripe webhook endpoint and the payer's return from 3-D Secure.</summary>
    public static void Map(IEndpointRouteBuilder root)
    {
        root.MapPost("/webhooks/stripe", async (HttpContext http, StripeWebhooks receiver, CancellationToken ct) =>
            {
                using var reader = new StreamReader(http.Request.Body);
                var body = await reader.ReadToEndAsync(ct);
                var result = await receiver.ReceiveAsync(body, http.Request.Headers[Header].ToString(), ct);
                return result.Status == 200
                    ? Results.Ok(new { result = result.Message })
                    : Results.Problem(title: "Webhook not accepted", detail: result.Message, statusCode: result.Status);
            })
            .AllowAnonymous() // authenticated by Stripe's signature
            .WithName("StripeWebhook")
            .WithSummary("Stripe's webhooks (payment_intent.*, charge.refunded): Stripe-Signature checked by Stripe.net; 400 for a bad signature or a stale timestamp; one effect per event id; 404 unless Marquee:Billing:Gateway is stripe.");
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Billing: Stripe webhook refused: {Problem}")]
        public static partial void Refused(ILogger logger, string problem);
    }
}

/// <summary>Registration of the configured gateway.</summary>
internal static class Gateways
{
    public const string Sandbox = "sandbox";
    public const string Stripe = "stripe";

    public static IServiceCollection AddPaymentGateway(this IServiceCollection services, IConfiguration configuration)
    {
        var name = configuration[$"{BillingOptions.Section}:Gateway"] is { Length: > 0 } g ? g.Trim().ToLowerInvariant() : Sandbox;
        if (name is not (Sandbox or Stripe))
        {
            throw new InvalidOperationException($"Marquee:Billing:Gateway is '{name}': use sandbox or stripe.");
        }

        services.AddOptions<StripeOptions>().Bind(configuration.GetSection(StripeOptions.Section))
            .Configure(o => o.Enabled = name == Stripe)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddScoped<StripeWebhooks>();
        if (name == Stripe)
        {
            StripeGateway.AddHttpClient(services);
            services.AddSingleton<StripeGateway>();
            services.AddSingleton<IPaymentGateway>(sp => sp.GetRequiredService<StripeGateway>());
        }
        else
        {
            services.AddSingleton<IPaymentGateway>(sp => sp.GetRequiredService<SandboxGateway>());
        }

        return services;
    }
}
