using System.Security.Claims;
using Marquee.Delivery.Contracts;

namespace Marquee.Delivery;

/// <summary>Asks every registered <see cref="IPlaybackPolicy"/> and combines their answers.</summary>
internal sealed class PlaybackPolicies(IEnumerable<IPlaybackPolicy> policies)
{
    public async Task<PlaybackDecision> EvaluateAsync(PlaybackRequest request, CancellationToken cancellationToken)
    {
        var decisions = new List<PlaybackDecision>();
        foreach (var policy in policies)
        {
            decisions.Add(await policy.EvaluateAsync(request, cancellationToken));
        }

        return Combine(decisions);
    }

    /// <summary>All must allow; the first refusal's reason wins; the smallest height limit wins; ads if any says so.</summary>
    public static PlaybackDecision Combine(IEnumerable<PlaybackDecision> decisions)
    {
        var list = decisions.ToList();
        var refusal = list.FirstOrDefault(d => !d.Allowed);
        var heights = list.Where(d => d.MaxHeight is not null).Select(d => d.MaxHeight!.Value).ToList();
        return new PlaybackDecision(
            refusal is null,
            refusal is null ? null : refusal.Reason ?? "Playback is not allowed.",
            heights.Count > 0 ? heights.Min() : null,
            list.Any(d => d.WithAds));
    }
}

/// <summary>Playback needs a signed-in viewer.</summary>
internal sealed class SignedInPolicy : IPlaybackPolicy
{
    public const string Reason = "Sign in to watch.";

    public Task<PlaybackDecision> EvaluateAsync(PlaybackRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(request.SignedIn ? PlaybackDecision.Allow() : PlaybackDecision.Refuse(Reason));
}

/// <summary>The viewer behind an HTTP request.</summary>
internal sealed record Viewer(Guid AccountId, Guid ProfileId, bool SignedIn, ClientPlatform Platform)
{
    public static readonly Viewer LocalOperator = new(PlaybackViewers.LocalOperatorAccountId, PlaybackViewers.LocalOperatorAccountId, true, ClientPlatform.Other);

    /// <summary>
    /// A viewer is signed in when the request carries an account (the Identity module's cookie): the account id is its
    /// NameIdentifier claim, and the profile is the active household profile's (the account when none is picked). The platform is that of the
    /// registered client app; none are registered yet, so every request is <see cref="ClientPlatform.Web"/>.
    /// </summary>
    public static Viewer Of(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (http.User.Identity is { IsAuthenticated: true }
            && Guid.TryParse(http.User.FindFirstValue(ClaimTypes.NameIdentifier), out var account))
        {
            // The active household profile (Identity's claim) keys resume positions and history; the account stands for it until one is picked.
            var profile = Guid.TryParse(http.User.FindFirstValue(Marquee.Identity.Contracts.IdentityClaims.Profile), out var p) ? p : account;
            return new Viewer(account, profile, true, ClientPlatform.Web);
        }

        return new Viewer(Guid.Empty, Guid.Empty, false, ClientPlatform.Web);
    }
}
