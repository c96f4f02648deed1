using System.ComponentModel.DataAnnotations;

namespace Marquee.Billing;

/// <summary>Bound from <c>Marquee:Billing</c>.</summary>
internal sealed class BillingOptions
{
    public const string Section = "Marquee:Billing";

    /// <summary>
    /// True: playback needs an entitlement (a free title, a subscription that plays, a valid rental or a purchase).
    /// False (the default): Billing refuses nothing, so that a fresh install plays without plans.
    /// </summary>
    public bool RequireEntitlement { get; set; }

    /// <summary>Tax rate per country (ISO 3166-1 alpha-2, upper case), as a fraction: <c>"DE": 0.19</c>.</summary>
    public Dictionary<string, decimal> TaxRates { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Rate for countries not in <see cref="TaxRates"/>.</summary>
    [Range(0, 1)]
    public decimal DefaultTaxRate { get; set; }

    /// <summary>Days after a failed renewal on which the charge is retried (dunning); suspended after the last fails.</summary>
    public List<int> RetryDays { get; set; } = [1, 3, 5];

    /// <summary>A rental must be started within this many days of paying.</summary>
    [Range(1, 365)]
    public int RentalDaysToStart { get; set; } = 30;

    /// <summary>A rental plays for this many hours from its first play.</summary>
    [Range(1, 720)]
    public int RentalHours { get; set; } = 48;

    /// <summary>How often the worker runs due billing jobs (renewals, retries, revenue recognition) and sandbox webhooks.</summary>
    public TimeSpan SchedulerInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Seconds a webhook's timestamp may differ from now.</summary>
    [Range(1, 3600)]
    public int WebhookToleranceSeconds { get; set; } = 300;

    public SandboxOptions Sandbox { get; set; } = new();

    /// <summary>The fraud check of on-session payments (<c>Marquee:Billing:Fraud</c>).</summary>
    public FraudOptions Fraud { get; set; } = new();

    /// <summary>
    /// How long a money-moving request keeps running its effect again while its save loses races (the invoice counter, a
    /// coupon's last use), before it gives up: 409 "Busy", nothing recorded, its charge refunded.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan RacePatience { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// NEVER in production. True: money-moving requests skip the idempotency store and charge the gateway with a fresh
    /// key on every attempt, as a client without idempotency would. It exists for the resilience harness's negative
    /// control (R2), which must fail with it.
    /// </summary>
    public bool UnsafeSkipIdempotency { get; set; }
}

internal sealed class SandboxOptions
{
    /// <summary>
    /// The secret the sandbox signs webhooks with. Empty: a random one is made and kept in
    /// <c>&lt;DataDir&gt;/billing/sandbox-webhook.key</c>.
    /// </summary>
    public string? WebhookSecret { get; set; }

    /// <summary>The sandbox's fee: fixed part in minor units.</summary>
    [Range(0, 1000)]
    public long FeeFixed { get; set; } = 25;

    /// <summary>The sandbox's fee: per mille of the amount (14 = 1.4 %).</summary>
    [Range(0, 1000)]
    public long FeePerMille { get; set; } = 14;
}
