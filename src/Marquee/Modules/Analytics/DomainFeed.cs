using Marquee.Billing.Contracts;
using Marquee.Delivery.Contracts;
using Marquee.Identity.Contracts;
using Marquee.Media.Contracts;
using Marquee.Platform.Events;

namespace Marquee.Analytics;

/// <summary>
/// Other modules' domain events into the same stream as the beacons, as server types (sign-ups from Identity, playback
/// sessions from Delivery, payments and subscription changes from Billing, assets ready from Media). The event id is the
/// outbox message id, so a redelivery is a duplicate, counted once. An event about an account that no longer exists (it
/// was erased while the event waited in its outbox) is stored with the user <c>erased</c>, never with the account's id.
/// </summary>
internal sealed class DomainFeed(Collector collector, IAccountFacts accounts) :
    IDomainEventHandler<SecurityEvent>, IDomainEventHandler<PlaybackStarted>, IDomainEventHandler<PlaybackEnded>,
    IDomainEventHandler<PaymentSucceeded>, IDomainEventHandler<SubscriptionChanged>, IDomainEventHandler<AssetReady>
{
    public async Task HandleAsync(SecurityEvent domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        if (domainEvent.Kind == SecurityEventKind.AccountCreated)
        {
            await StoreAsync(new AnalyticsEvent { Id = Id(context), Type = EventSchema.SignUp, Time = domainEvent.At, User = await UserAsync(domainEvent.AccountId, cancellationToken) }, cancellationToken);
        }
    }

    public async Task HandleAsync(PlaybackStarted domainEvent, EventContext context, CancellationToken cancellationToken) =>
        await StoreAsync(new AnalyticsEvent
        {
            Id = Id(context), Type = EventSchema.PlaybackStarted, Time = domainEvent.At, User = await UserAsync(domainEvent.AccountId, cancellationToken),
            Session = domainEvent.SessionId.ToString(), Title = domainEvent.TitleId, Device = domainEvent.Platform.ToString().ToLowerInvariant(),
        }, cancellationToken);

    public async Task HandleAsync(PlaybackEnded domainEvent, EventContext context, CancellationToken cancellationToken) =>
        await StoreAsync(new AnalyticsEvent
        {
            Id = Id(context), Type = EventSchema.PlaybackEnded, Time = domainEvent.At, User = await UserAsync(domainEvent.AccountId, cancellationToken),
            Session = domainEvent.SessionId.ToString(), Title = domainEvent.TitleId, Position = domainEvent.PositionSeconds, Code = domainEvent.Reason,
        }, cancellationToken);

    public async Task HandleAsync(PaymentSucceeded domainEvent, EventContext context, CancellationToken cancellationToken) =>
        await StoreAsync(new AnalyticsEvent
        {
            Id = Id(context), Type = EventSchema.Payment, Time = domainEvent.At, User = await UserAsync(domainEvent.AccountId, cancellationToken),
            Amount = domainEvent.Amount, Currency = domainEvent.Currency, Code = domainEvent.Purpose,
        }, cancellationToken);

    public async Task HandleAsync(SubscriptionChanged domainEvent, EventContext context, CancellationToken cancellationToken) =>
        await StoreAsync(new AnalyticsEvent
        {
            Id = Id(context), Type = EventSchema.Subscription, Time = domainEvent.At, User = await UserAsync(domainEvent.AccountId, cancellationToken),
            Plan = domainEvent.PlanCode, Status = domainEvent.Paying ? domainEvent.Status : "Free", // free with ads: a subscriber, not a paying one (K3, K4)
        }, cancellationToken);

    public Task HandleAsync(AssetReady domainEvent, EventContext context, CancellationToken cancellationToken) =>
        StoreAsync(new AnalyticsEvent
        {
            Id = Id(context), Type = EventSchema.AssetReady, Time = context.OccurredAt, User = "system", Title = domainEvent.TitleId,
            Duration = domainEvent.Duration.TotalSeconds, Code = domainEvent.AudioOnly ? "audio" : "video",
        }, cancellationToken);

    private static string Id(EventContext context) => $"dom:{context.MessageId:N}";

    private async Task<string> UserAsync(Guid accountId, CancellationToken cancellationToken) =>
        accountId == Guid.Empty || accountId == PlaybackViewers.LocalOperatorAccountId || await accounts.CreatedAtAsync(accountId, cancellationToken) is not null
            ? accountId.ToString()
            : "erased";

    private Task StoreAsync(AnalyticsEvent e, CancellationToken ct) =>
        collector.IngestAsync([e], backfill: false, ct);
}
