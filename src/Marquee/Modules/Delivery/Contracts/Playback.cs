using Marquee.Platform.Events;

namespace Marquee.Delivery.Contracts;

/// <summary>
/// The kind of client app that plays. It comes from the registered client app, never from a request body; until client
/// apps are registered (Identity), every browser request is <see cref="Web"/>.
/// </summary>
public enum ClientPlatform
{
    Web,
    Ios,
    Android,
    Tv,
    Desktop,

    /// <summary>A URL issued to an operator from the command line (<c>marquee playback-url</c>).</summary>
    Other,
}

/// <summary>Who wants to play what, from where, as every <see cref="IPlaybackPolicy"/> sees it.</summary>
/// <param name="AccountId">The viewer's account (<see cref="PlaybackViewers.LocalOperatorAccountId"/> for the command line; empty when not signed in).</param>
/// <param name="ProfileId">The viewer's profile (the account id until profiles exist).</param>
/// <param name="TitleId">The Catalog title.</param>
/// <param name="Country">ISO 3166-1 alpha-2 country of the viewer when known (from <see cref="Marquee.Platform.Web.IClientCountry"/>; null for loopback and private addresses).</param>
/// <param name="Platform">The client app's platform (from its registration, not from the request body).</param>
/// <param name="DeviceId">The client's device id when known.</param>
/// <param name="SignedIn">True when the viewer is signed in.</param>
public sealed record PlaybackRequest(Guid AccountId, Guid ProfileId, Guid TitleId, string? Country, ClientPlatform Platform, string? DeviceId, bool SignedIn);

/// <summary>One policy's answer: allowed or refused (with a reason the player shows), an optional height limit, ads or not.</summary>
public sealed record PlaybackDecision(bool Allowed, string? Reason, int? MaxHeight, bool WithAds)
{
    public static PlaybackDecision Allow() => new(true, null, null, false);

    public static PlaybackDecision Refuse(string reason) => new(false, reason, null, false);

    /// <summary>Allowed, but no rendition taller than <paramref name="height"/> pixels.</summary>
    public static PlaybackDecision Limit(int height) => new(true, null, height, false);

    /// <summary>Allowed, with ads.</summary>
    public static PlaybackDecision Ads() => new(true, null, null, true);
}

/// <summary>
/// A module that may refuse or limit playback (entitlements, licences, stream limits...). Delivery asks every registered
/// policy: all must allow; the first refusal's reason goes to the player; the smallest height limit wins; ads if any says so.
/// </summary>
public interface IPlaybackPolicy
{
    Task<PlaybackDecision> EvaluateAsync(PlaybackRequest request, CancellationToken cancellationToken);
}

/// <summary>Delivery's read contract: live playback sessions (for stream limits).</summary>
public interface IPlaybackSessions
{
    /// <summary>Sessions of the account that have not ended and whose heartbeat has not timed out.</summary>
    Task<int> CountLiveAsync(Guid accountId, CancellationToken cancellationToken);
}

/// <summary>Well-known viewers that are not accounts.</summary>
public static class PlaybackViewers
{
    /// <summary>
    /// The operator at the command line (<c>marquee playback-url</c>), who has no account: the sessions it opens carry
    /// this fixed account (and profile) id.
    /// </summary>
    public static readonly Guid LocalOperatorAccountId = new("00000000-0000-0000-0000-00000000a11c");
}

[EventName("delivery.playback-started.v1")]
[Marquee.Platform.Privacy.RedactAfterDelivery]
public sealed record PlaybackStarted(Guid SessionId, Guid AccountId, Guid ProfileId, Guid TitleId, Guid AssetId, ClientPlatform Platform, int? MaxHeight, bool WithAds, DateTimeOffset At) : IDomainEvent;

/// <summary>A session ended: <paramref name="Reason"/> is <c>stopped</c>, <c>heartbeat-timeout</c> or <c>revoked</c>.</summary>
[EventName("delivery.playback-ended.v1")]
[Marquee.Platform.Privacy.RedactAfterDelivery]
public sealed record PlaybackEnded(Guid SessionId, Guid AccountId, Guid TitleId, string Reason, double? PositionSeconds, DateTimeOffset At) : IDomainEvent;
