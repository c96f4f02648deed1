using Marquee.Delivery;
using Marquee.Delivery.Contracts;

namespace Marquee.Tests.Delivery;

/// <summary>How Delivery combines every module's playback decision.</summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class PlaybackPolicyTests
{
    private static readonly PlaybackRequest Request = new(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "FR", ClientPlatform.Web, null, SignedIn: true);

    [Fact]
    public async Task Evaluate_WhenOnePolicyRefuses_RefusesWithTheFirstRefusalsReason()
    {
        var policies = new PlaybackPolicies([
            Fixed(PlaybackDecision.Limit(720)),
            Fixed(PlaybackDecision.Refuse("Not available in your country.")),
            Fixed(PlaybackDecision.Refuse("Your plan does not include this title.")),
            Fixed(PlaybackDecision.Allow()),
        ]);

        var decision = await policies.EvaluateAsync(Request, CancellationToken.None);

        Assert.False(decision.Allowed);
        Assert.Equal("Not available in your country.", decision.Reason);
    }

    [Fact]
    public async Task Evaluate_WhenSeveralLimitHeight_TheSmallestWins()
    {
        var policies = new PlaybackPolicies([Fixed(PlaybackDecision.Limit(1080)), Fixed(PlaybackDecision.Allow()), Fixed(PlaybackDecision.Limit(480))]);

        var decision = await policies.EvaluateAsync(Request, CancellationToken.None);

        Assert.True(decision.Allowed);
        Assert.Null(decision.Reason);
        Assert.Equal(480, decision.MaxHeight);
        Assert.False(decision.WithAds);
    }

    [Fact]
    public async Task Evaluate_WhenAnyPolicyWantsAds_PlaysWithAds()
    {
        var policies = new PlaybackPolicies([Fixed(PlaybackDecision.Allow()), Fixed(PlaybackDecision.Ads()), Fixed(PlaybackDecision.Limit(720))]);

        var decision = await policies.EvaluateAsync(Request, CancellationToken.None);

        Assert.True(decision.Allowed);
        Assert.True(decision.WithAds);
        Assert.Equal(720, decision.MaxHeight);
    }

    [Fact]
    public async Task Evaluate_WhenEveryPolicyAllows_AllowsWithoutLimit()
    {
        var asked = new List<string>();
        var policies = new PlaybackPolicies([Fixed(PlaybackDecision.Allow(), () => asked.Add("a")), Fixed(PlaybackDecision.Allow(), () => asked.Add("b"))]);

        var decision = await policies.EvaluateAsync(Request, CancellationToken.None);

        Assert.Equal(PlaybackDecision.Allow(), decision);
        Assert.Equal(["a", "b"], asked);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public async Task SignedInPolicy_WhenViewerSignedInOrNot_AllowsOnlySignedIn(bool signedIn, bool allowed)
    {
        var decision = await new SignedInPolicy().EvaluateAsync(Request with { SignedIn = signedIn }, CancellationToken.None);

        Assert.Equal(allowed, decision.Allowed);
        Assert.Equal(allowed ? null : SignedInPolicy.Reason, decision.Reason);
    }

    private static FixedPolicy Fixed(PlaybackDecision decision, Action? onAsked = null) => new(decision, onAsked);

    private sealed class FixedPolicy(PlaybackDecision decision, Action? onAsked) : IPlaybackPolicy
    {
        public Task<PlaybackDecision> EvaluateAsync(PlaybackRequest request, CancellationToken cancellationToken)
        {
            onAsked?.Invoke();
            return Task.FromResult(decision);
        }
    }
}
