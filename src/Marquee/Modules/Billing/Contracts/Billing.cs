using Marquee.Platform.Events;

namespace Marquee.Billing.Contracts;

/// <summary>What an account's plan allows, for other modules (Identity's stream limit, players): null when no plan plays.</summary>
/// <param name="PlanCode">The plan's code.</param>
/// <param name="MaxHeight">The tallest rendition the plan plays, in pixels.</param>
/// <param name="Streams">Concurrent streams the plan allows.</param>
public sealed record PlanLimits(string PlanCode, int MaxHeight, int Streams);

/// <summary>Billing's read contract: the limits of the account's subscription while it plays (trialing, active, in grace).</summary>
public interface IPlanLimits
{
    Task<PlanLimits?> ForAccountAsync(Guid accountId, CancellationToken cancellationToken);
}

/// <summary>
/// A payment succeeded (a subscription charge, renewal, proration, rental or purchase). Amounts in minor units of
/// <paramref name="Currency"/>, tax included. Billing itself sends the receipt from it.
/// </summary>
[EventName("billing.payment-succeeded.v1")]
[Marquee.Platform.Privacy.RedactAfterDelivery]
public sealed record PaymentSucceeded(Guid PaymentId, Guid AccountId, Guid InvoiceId, string InvoiceNumber, long Amount, string Currency, string Purpose, DateTimeOffset At) : IDomainEvent;

/// <summary>A subscription changed state (active, past-due, suspended, cancelled...): entitlements follow at once.</summary>
[EventName("billing.subscription-changed.v1")]
[Marquee.Platform.Privacy.RedactAfterDelivery]
public sealed record SubscriptionChanged(Guid SubscriptionId, Guid AccountId, string PlanCode, string Status, DateTimeOffset CurrentPeriodEnd, DateTimeOffset At, bool Paying = true) : IDomainEvent;
