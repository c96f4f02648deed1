using Marquee.Platform.Events;

namespace Marquee.Rights.Contracts;

/// <summary>
/// Rights' read contract for browse and search: which of these titles a viewer in <c>country</c> (ISO 3166-1 alpha-2, null
/// when unknown) on <c>platform</c> may play now, by the same licence rules as the playback policy.
/// </summary>
public interface ITitleAvailability
{
    Task<IReadOnlySet<Guid>> PlayableAsync(IReadOnlyCollection<Guid> titleIds, string? country, Marquee.Delivery.Contracts.ClientPlatform platform, CancellationToken cancellationToken);
}

/// <summary>
/// Rights' read contract for entitlements: the service models that the licences in force grant a title for a viewer in
/// <c>country</c> (ISO 3166-1 alpha-2, null when unknown) on <c>platform</c> now. <see cref="ServiceModels.All"/> for a
/// title with no licence while licences are not required; <see cref="ServiceModels.None"/> when no licence is in force
/// for this viewer (the licence policy then refuses with its own reason). Billing's entitlements play a title only
/// through a model granted here: a subscription (SVOD), a plan with ads or a free title (AVOD), a rental or purchase (TVOD).
/// </summary>
public interface ITitleServiceModels
{
    Task<ServiceModels> GrantedAsync(Guid titleId, string? country, Marquee.Delivery.Contracts.ClientPlatform platform, CancellationToken cancellationToken);
}

/// <summary>Platforms a licence grants: client apps map onto them (Web and Desktop: web; iOS and Android: mobile; TV apps: TV).</summary>
[Flags]
public enum LicencePlatforms
{
    None = 0,
    Web = 1,
    Mobile = 2,
    Tv = 4,
    All = Web | Mobile | Tv,
}

/// <summary>Service models a licence grants: subscription, advertising-funded, transactional (rental or purchase).</summary>
[Flags]
public enum ServiceModels
{
    None = 0,
    Svod = 1,
    Avod = 2,
    Tvod = 4,
    All = Svod | Avod | Tvod,
}

/// <summary>A contract's life: draft -> negotiation -> signed -> active -> expired (negotiation may go back to draft).</summary>
public enum ContractStatus
{
    Draft,
    Negotiation,
    Signed,
    Active,
    Expired,
}

/// <summary>How the licence fee is computed.</summary>
public enum FeeModel
{
    /// <summary>A fixed fee, paid per the payment schedule; no per-use royalty.</summary>
    Flat,

    /// <summary>A revenue share with an advance (the minimum guarantee) that earned royalties recoup first.</summary>
    MinimumGuarantee,

    /// <summary>A percentage of the revenue attributable to the contract's titles.</summary>
    RevenueShare,

    /// <summary>A rate per stream (a playback session started).</summary>
    PerStream,
}

public enum PaymentSchedule
{
    OneOff,
    Monthly,
    Quarterly,
    Annually,
}

/// <summary>A licence ends within <paramref name="DaysAhead"/> days (30, 7 or 1): raised once per licence and threshold.</summary>
[EventName("rights.licence-expiring.v1")]
public sealed record LicenceExpiring(Guid LicenceId, string Name, IReadOnlyList<Guid> TitleIds, DateTimeOffset EndsAt, int DaysAhead) : IDomainEvent;

/// <summary>
/// Revenue recognised, as Rights consumes it for royalty statements. <b>The contract for Billing to publish</b> (Billing
/// does not exist yet; tests publish fixtures). <paramref name="Amount"/> is a decimal amount in the currency's major unit
/// (e.g. 9.99 EUR), net of taxes. <paramref name="TitleId"/> is set for revenue one title earned (a rental, a purchase) and
/// null for pooled revenue (subscriptions, advertising) that royalties share among titles by minutes watched.
/// <paramref name="RevenueId"/> identifies the revenue line: publishing it twice counts it once.
/// </summary>
[EventName("billing.revenue-recognised.v1")]
public sealed record RevenueRecognised(Guid RevenueId, DateTimeOffset At, decimal Amount, string Currency, Guid? TitleId, string Source) : IDomainEvent;

/// <summary>All-time revenue a title earned in one currency: its own (rentals, purchases) plus its share of pooled revenue by minutes watched.</summary>
public sealed record TitleRevenue(Guid TitleId, string Currency, decimal Amount);

/// <summary>Rights' revenue per title, as royalties attribute it (Catalog's content-value estimate reads it).</summary>
public interface ITitleRevenue
{
    Task<IReadOnlyList<TitleRevenue>> RevenueAsync(IReadOnlyCollection<Guid> titleIds, CancellationToken cancellationToken);
}
