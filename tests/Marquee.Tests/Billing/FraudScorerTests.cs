using Marquee.Billing;
using Marquee.Billing.Data;

namespace Marquee.Tests.Billing;

/// <summary>The fraud score as a pure function of the signals: each signal alone moves the score, with its reason.</summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class FraudScorerTests
{
    private static readonly FraudOptions Options = new();

    /// <summary>An ordinary attempt: an old account in DE paying 11.89 EUR with its first card, nothing unusual.</summary>
    private static readonly FraudSignals Clean = new(1189, "EUR", AccountAttempts: 1, IpAttempts: 1, SmallCharges: 0, DistinctCards: 1,
        CardCountry: "DE", IpCountry: "DE", AccountCountry: "DE", AccountAgeHours: 24 * 400, DisposableEmail: false);

    public static TheoryData<string, string> Signals => new()
    {
        { FraudScorer.AccountVelocity, "5 attempts by the account" },
        { FraudScorer.IpVelocity, "10 attempts from the address" },
        { FraudScorer.SmallChargeBurst, "3 charges of at most 500" },
        { FraudScorer.ManyCards, "3 distinct cards" },
        { FraudScorer.CardCountry, "card issued in BR, account in DE" },
        { FraudScorer.IpCountry, "client in US, account in DE" },
        { FraudScorer.NewAccountHighValue, "account 2 h old" },
        { FraudScorer.DisposableEmail, "disposable" },
    };

    private static FraudSignals With(string signal) => signal switch
    {
        FraudScorer.AccountVelocity => Clean with { AccountAttempts = 5 },
        FraudScorer.IpVelocity => Clean with { IpAttempts = 10 },
        FraudScorer.SmallChargeBurst => Clean with { SmallCharges = 3, Amount = 118 },
        FraudScorer.ManyCards => Clean with { DistinctCards = 3 },
        FraudScorer.CardCountry => Clean with { CardCountry = "BR" },
        FraudScorer.IpCountry => Clean with { IpCountry = "US" },
        FraudScorer.NewAccountHighValue => Clean with { AccountAgeHours = 2, Amount = 11988 },
        FraudScorer.DisposableEmail => Clean with { DisposableEmail = true },
        _ => throw new ArgumentOutOfRangeException(nameof(signal)),
    };

    [Theory]
    [MemberData(nameof(Signals))]
    public void EachSignalAlone_MovesTheScore_WithItsReason(string signal, string text)
    {
        var clean = FraudScorer.Score(Clean, Options, null);
        Assert.Equal(0, clean.Score);
        Assert.Empty(clean.Reasons);
        Assert.Equal(FraudDecision.Allow, clean.Decision);

        var scored = FraudScorer.Score(With(signal), Options, null);
        var reason = Assert.Single(scored.Reasons);
        Assert.Equal(signal, reason.Code);
        Assert.Contains(text, reason.Text, StringComparison.Ordinal);
        Assert.Equal(FraudScorer.Rules.Single(r => r.Code == signal).Points, scored.Score);
        Assert.True(scored.Score > 0);
    }

    [Fact]
    public void BelowTheThresholds_NothingFires()
    {
        var near = Clean with { AccountAttempts = 4, IpAttempts = 9, SmallCharges = 2, DistinctCards = 2, AccountAgeHours = 23, Amount = 9999, CardCountry = null, IpCountry = null };
        Assert.Equal(0, FraudScorer.Score(near, Options, null).Score);
    }

    [Fact]
    public void Points_AddUpToChallengeThenBlock_CappedAt100()
    {
        var challenge = FraudScorer.Score(Clean with { SmallCharges = 3, DistinctCards = 3 }, Options, null); // 25 + 35
        Assert.Equal((60, FraudDecision.Challenge), (challenge.Score, challenge.Decision));
        var block = FraudScorer.Score(Clean with { SmallCharges = 3, DistinctCards = 3, AccountAttempts = 5 }, Options, null); // + 35
        Assert.Equal((95, FraudDecision.Block), (block.Score, block.Decision));
        var all = FraudScorer.Score(Clean with { SmallCharges = 9, DistinctCards = 9, AccountAttempts = 9, IpAttempts = 20, DisposableEmail = true }, Options, null);
        Assert.Equal(100, all.Score);
        Assert.Equal(5, all.Reasons.Count);
    }

    [Fact]
    public void AModel_DecidesByItsProbability_TheRulesStillGiveTheReasons()
    {
        var scored = FraudScorer.Score(Clean with { DisposableEmail = true }, Options, 0.91);
        Assert.Equal((91, FraudDecision.Block), (scored.Score, scored.Decision));
        Assert.Equal([FraudScorer.DisposableEmail, FraudScorer.Model], scored.Reasons.Select(r => r.Code));
        Assert.Equal(FraudDecision.Allow, FraudScorer.Score(Clean with { DisposableEmail = true }, Options, 0.10).Decision);
    }

    [Fact]
    public void Metrics_PrecisionAndRecall_OnLabels()
    {
        // truth:     F  F  F  L  L
        // predicted: y  y  n  y  n  -> TP 2, FP 1, FN 1: precision 2/3, recall 2/3
        var m = FraudReview.Metrics("r", "", [true, true, true, false, false], [true, true, false, true, false]);
        Assert.Equal((3, 2), (m.Fired, m.TruePositives));
        Assert.Equal(2 / 3d, m.Precision!.Value, 6);
        Assert.Equal(2 / 3d, m.Recall!.Value, 6);
        Assert.Null(FraudReview.Metrics("r", "", [false], [false]).Precision);
    }

    [Fact]
    public void Reasons_RoundTrip()
    {
        var reasons = FraudScorer.Fire(Clean with { CardCountry = "BR", DisposableEmail = true }, Options);
        Assert.Equal(reasons, FraudScorer.Parse(FraudScorer.Format(reasons)));
    }
}
