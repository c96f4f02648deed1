using System.ComponentModel.DataAnnotations;
using Marquee.Billing.Data;
using Marquee.Identity.Contracts;
using Marquee.Platform.Audit;
using Marquee.Platform.Events;
using Marquee.Platform.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace Marquee.Billing;

/// <summary>Bound from <c>Marquee:Billing:Fraud</c>: the fraud check's thresholds (points per rule are fixed, see <see cref="FraudScorer"/>).</summary>
internal sealed class FraudOptions
{
    /// <summary>False: every on-session payment is allowed without a check (nothing is stored).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Score (0-100) from which the payer must pass the gateway's challenge (3-D Secure).</summary>
    [Range(1, 100)]
    public int ChallengeAt { get; set; } = 50;

    /// <summary>Score from which the attempt is refused before any charge.</summary>
    [Range(1, 101)]
    public int BlockAt { get; set; } = 80;

    /// <summary>Allowed attempts scoring at least this are listed for review too.</summary>
    [Range(0, 100)]
    public int ReviewFrom { get; set; } = 30;

    /// <summary>The velocity window (attempts, small charges).</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Attempts of one account in <see cref="Window"/> (this one included) that count as card testing.</summary>
    [Range(2, 1000)]
    public int AccountAttempts { get; set; } = 5;

    /// <summary>Attempts from one public address in <see cref="Window"/> (this one included) that count as card testing.</summary>
    [Range(2, 10000)]
    public int IpAttempts { get; set; } = 10;

    /// <summary>A charge of at most this (minor units) is "small".</summary>
    [Range(0, long.MaxValue)]
    public long SmallAmount { get; set; } = 500;

    /// <summary>Small charges of one account in <see cref="Window"/> (this one included) that count as card testing.</summary>
    [Range(2, 1000)]
    public int SmallCharges { get; set; } = 3;

    /// <summary>Distinct cards one account used in <see cref="CardWindow"/> (this one included) that count as too many.</summary>
    [Range(2, 1000)]
    public int DistinctCards { get; set; } = 3;

    public TimeSpan CardWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>An account younger than this buying for at least <see cref="HighValue"/> is a signal.</summary>
    [Range(0, 100000)]
    public double NewAccountHours { get; set; } = 24;

    [Range(0, long.MaxValue)]
    public long HighValue { get; set; } = 10000;

    /// <summary>Labels (reviewed attempts) needed before a model is trained and used instead of the rules.</summary>
    [Range(2, 1000000)]
    public int MinLabels { get; set; } = 50;

    /// <summary>Of those, at least this many of each class (fraud and legitimate).</summary>
    [Range(1, 1000000)]
    public int MinPerClass { get; set; } = 5;
}

/// <summary>What the fraud check knows about one attempt. Counts include the attempt itself.</summary>
internal sealed record FraudSignals(
    long Amount,
    string Currency,
    int AccountAttempts,
    int IpAttempts,
    int SmallCharges,
    int DistinctCards,
    string? CardCountry,
    string? IpCountry,
    string? AccountCountry,
    double AccountAgeHours,
    bool DisposableEmail);

internal sealed record FraudReason(string Code, int Points, string Text);

internal sealed record FraudScore(int Score, FraudDecision Decision, IReadOnlyList<FraudReason> Reasons, double? ModelProbability);

/// <summary>
/// The fraud score as a pure function of the signals: the rules' points added up (capped at 100), or, once a model is
/// trained, the model's probability of fraud times 100 (the rules still give the reasons).
/// </summary>
internal static class FraudScorer
{
    public const string AccountVelocity = "account-velocity";
    public const string IpVelocity = "ip-velocity";
    public const string SmallChargeBurst = "small-charges";
    public const string ManyCards = "many-cards";
    public const string CardCountry = "card-country";
    public const string IpCountry = "ip-country";
    public const string NewAccountHighValue = "new-account-high-value";
    public const string DisposableEmail = "disposable-email";
    public const string Model = "model";

    /// <summary>Every rule and its points.</summary>
    public static readonly IReadOnlyList<(string Code, int Points, string Description)> Rules =
    [
        (AccountVelocity, 35, "many attempts by one account in the window"),
        (IpVelocity, 30, "many attempts from one public address in the window"),
        (SmallChargeBurst, 25, "many small charges by one account in the window"),
        (ManyCards, 35, "many distinct cards on one account"),
        (CardCountry, 20, "the card's country is not the account's"),
        (IpCountry, 15, "the client's country is not the account's"),
        (NewAccountHighValue, 20, "a new account buying for a high amount"),
        (DisposableEmail, 25, "a disposable e-mail domain"),
    ];

    public static IReadOnlyList<FraudReason> Fire(FraudSignals s, FraudOptions o)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(o);
        var reasons = new List<FraudReason>();
        void Add(string code, string text) => reasons.Add(new FraudReason(code, Rules.First(r => r.Code == code).Points, text));
        if (s.AccountAttempts >= o.AccountAttempts)
        {
            Add(AccountVelocity, $"{s.AccountAttempts} attempts by the account in {o.Window.TotalMinutes:0} min");
        }

        if (s.IpAttempts >= o.IpAttempts)
        {
            Add(IpVelocity, $"{s.IpAttempts} attempts from the address in {o.Window.TotalMinutes:0} min");
        }

        if (s.SmallCharges >= o.SmallCharges)
        {
            Add(SmallChargeBurst, $"{s.SmallCharges} charges of at most {o.SmallAmount} in {o.Window.TotalMinutes:0} min");
        }

        if (s.DistinctCards >= o.DistinctCards)
        {
            Add(ManyCards, $"{s.DistinctCards} distinct cards in {o.CardWindow.TotalHours:0} h");
        }

        if (s.CardCountry is { } card && s.AccountCountry is { } account && card != account)
        {
            Add(CardCountry, $"card issued in {card}, account in {account}");
        }

        if (s.IpCountry is { } ip && s.AccountCountry is { } acc && ip != acc)
        {
            Add(IpCountry, $"client in {ip}, account in {acc}");
        }

        if (s.AccountAgeHours < o.NewAccountHours && s.Amount >= o.HighValue)
        {
            Add(NewAccountHighValue, $"account {s.AccountAgeHours:0.#} h old, {s.Amount} {s.Currency}");
        }

        if (s.DisposableEmail)
        {
            Add(DisposableEmail, "the e-mail domain is disposable");
        }

        return reasons;
    }

    public static FraudScore Score(FraudSignals signals, FraudOptions options, double? modelProbability)
    {
        ArgumentNullException.ThrowIfNull(options);
        var reasons = Fire(signals, options).ToList();
        int score;
        if (modelProbability is { } p)
        {
            score = (int)Math.Round(Math.Clamp(p, 0, 1) * 100, MidpointRounding.AwayFromZero);
            reasons.Add(new FraudReason(Model, score, $"the model's probability of fraud is {p:0.00}"));
        }
        else
        {
            score = Math.Min(100, reasons.Sum(r => r.Points));
        }

        var decision = score >= options.BlockAt ? FraudDecision.Block : score >= options.ChallengeAt ? FraudDecision.Challenge : FraudDecision.Allow;
        return new FraudScore(score, decision, reasons, modelProbability);
    }

    public const int FeatureCount = 9;

    /// <summary>The model's features (the same signals the rules read).</summary>
    public static float[] Features(FraudSignals s, FraudOptions o) =>
    [
        s.AccountAttempts, s.IpAttempts, s.SmallCharges, s.DistinctCards,
        s.CardCountry is not null && s.AccountCountry is not null && s.CardCountry != s.AccountCountry ? 1 : 0,
        s.IpCountry is not null && s.AccountCountry is not null && s.IpCountry != s.AccountCountry ? 1 : 0,
        (float)Math.Min(s.AccountAgeHours / 24, 3650), (float)Math.Log10(1 + Math.Max(0, s.Amount)), s.DisposableEmail ? 1 : 0,
    ];

    public static FraudSignals SignalsOf(FraudAssessment a) =>
        new(a.Amount, a.Currency, a.AccountAttempts, a.IpAttempts, a.SmallCharges, a.DistinctCards, a.CardCountry, a.IpCountry, a.AccountCountry, a.AccountAgeHours, a.DisposableEmail);

    public static string Format(IEnumerable<FraudReason> reasons) => string.Join('\n', reasons.Select(r => $"{r.Code}|{r.Points}|{r.Text}"));

    public static IReadOnlyList<FraudReason> Parse(string reasons) =>
        [.. reasons.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('|', 3)).Where(p => p.Length == 3)
            .Select(p => new FraudReason(p[0], int.TryParse(p[1], out var n) ? n : 0, p[2]))];
}

/// <summary>Where the signals come from (the database, the gateway, Identity, the IP-to-country lookup); tests replace it.</summary>
internal interface IFraudSignalSource
{
    Task<(FraudSignals Signals, string? Ip, string? CardFingerprint)> GatherAsync(Guid accountId, string email, long amount, string currency, string accountCountry, string method, CancellationToken cancellationToken);
}

internal sealed class FraudSignalSource(BillingDb db, IPaymentGateway gateway, IClientCountry countries, IHttpContextAccessor http, IAccountFacts accounts,
    IOptions<BillingOptions> options, TimeProvider time) : IFraudSignalSource
{
    public async Task<(FraudSignals Signals, string? Ip, string? CardFingerprint)> GatherAsync(Guid accountId, string email, long amount, string currency, string accountCountry, string method, CancellationToken cancellationToken)
    {
        var o = options.Value.Fraud;
        var now = time.GetUtcNow();
        var since = now - o.Window;
        var address = http.HttpContext?.Connection.RemoteIpAddress is { } a ? (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a) : null;
        var ip = address is not null && !ClientCountry.IsLocalOrPrivate(address) ? address.ToString() : null; // a private address is nobody's
        var card = await gateway.CardAsync(method, cancellationToken);
        var recent = await db.FraudAssessments.AsNoTracking().Where(f => f.AccountId == accountId && f.At >= now - (o.CardWindow > o.Window ? o.CardWindow : o.Window))
            .Select(f => new { f.At, f.Amount, f.CardFingerprint }).ToListAsync(cancellationToken);
        var inWindow = recent.Where(f => f.At >= since).ToList();
        var ipAttempts = ip is null ? 0 : 1 + await db.FraudAssessments.CountAsync(f => f.Ip == ip && f.At >= since, cancellationToken);
        var cards = recent.Where(f => f.At >= now - o.CardWindow && f.CardFingerprint != null).Select(f => f.CardFingerprint!).ToHashSet(StringComparer.Ordinal);
        if (card is not null)
        {
            cards.Add(card.Fingerprint);
        }

        var created = await accounts.CreatedAtAsync(accountId, cancellationToken);
        var signals = new FraudSignals(
            amount, currency,
            AccountAttempts: 1 + inWindow.Count,
            IpAttempts: ipAttempts,
            SmallCharges: (amount <= o.SmallAmount ? 1 : 0) + inWindow.Count(f => f.Amount <= o.SmallAmount),
            DistinctCards: cards.Count,
            CardCountry: card?.Country,
            IpCountry: countries.Current(),
            AccountCountry: accountCountry,
            AccountAgeHours: created is { } c ? Math.Max(0, (now - c).TotalHours) : 1e6,
            DisposableEmail: accounts.IsDisposableEmail(email));
        return (signals, ip, card?.Fingerprint);
    }
}

/// <summary>Scores an on-session payment attempt and stores the assessment (in the caller's transaction: it is saved with the answer).</summary>
internal sealed class FraudCheck(BillingDb db, IFraudSignalSource source, FraudModels models, IOptions<BillingOptions> options, TimeProvider time)
{
    public async Task<FraudAssessment?> AssessAsync(Guid accountId, string email, string purpose, long amount, string currency, string accountCountry, string method, CancellationToken cancellationToken)
    {
        var o = options.Value.Fraud;
        if (!o.Enabled)
        {
            return null;
        }

        var (signals, ip, fingerprint) = await source.GatherAsync(accountId, email, amount, currency, accountCountry, method, cancellationToken);
        var probability = await models.PredictAsync(db, FraudScorer.Features(signals, o), cancellationToken);
        var score = FraudScorer.Score(signals, o, probability);
        var assessment = new FraudAssessment
        {
            Id = Guid.NewGuid(), AccountId = accountId, At = time.GetUtcNow(), Purpose = purpose, Amount = amount, Currency = currency, Ip = ip,
            IpCountry = signals.IpCountry, CardFingerprint = fingerprint, CardCountry = signals.CardCountry, AccountCountry = signals.AccountCountry,
            AccountAttempts = signals.AccountAttempts, IpAttempts = signals.IpAttempts, SmallCharges = signals.SmallCharges, DistinctCards = signals.DistinctCards,
            AccountAgeHours = signals.AccountAgeHours, DisposableEmail = signals.DisposableEmail, Score = score.Score, ModelProbability = score.ModelProbability,
            Decision = score.Decision, Reasons = FraudScorer.Format(score.Reasons),
        };
        db.FraudAssessments.Add(assessment);
        return assessment;
    }

    public static string Explain(FraudAssessment a) =>
        $"The payment was refused by the fraud check (score {a.Score}): {string.Join("; ", FraudScorer.Parse(a.Reasons).Select(r => r.Text))}.";
}

internal sealed class FraudRow
{
    [VectorType(FraudScorer.FeatureCount)]
    public float[] Features { get; set; } = [];

    public bool Label { get; set; }
}

internal sealed class FraudPrediction
{
    public float Probability { get; set; }
}

/// <summary>
/// The fraud model: trains ML.NET LightGBM on the labelled assessments once there are enough (both classes), keeps the
/// newest in the database, and scores with it (a prediction engine cached per model, used under a lock).
/// </summary>
internal sealed class FraudModels(IOptions<BillingOptions> options, TimeProvider time)
{
    private readonly MLContext ml = new(seed: 1);
    private readonly Lock gate = new();
    private (Guid Id, PredictionEngine<FraudRow, FraudPrediction> Engine)? current;

    /// <summary>The newest model's probability of fraud for these features, or null when no model has been trained.</summary>
    public async Task<double?> PredictAsync(BillingDb db, float[] features, CancellationToken cancellationToken)
    {
        var latest = await db.FraudModels.AsNoTracking().OrderByDescending(m => m.TrainedAt).Select(m => (Guid?)m.Id).FirstOrDefaultAsync(cancellationToken);
        if (latest is not { } id)
        {
            return null;
        }

        PredictionEngine<FraudRow, FraudPrediction> engine;
        lock (gate)
        {
            engine = current is { } c && c.Id == id ? c.Engine : null!;
        }

        if (engine is null)
        {
            var bytes = await db.FraudModels.AsNoTracking().Where(m => m.Id == id).Select(m => m.Bytes).FirstAsync(cancellationToken);
            using var stream = new MemoryStream(bytes);
            var model = ml.Model.Load(stream, out _);
            engine = ml.Model.CreatePredictionEngine<FraudRow, FraudPrediction>(model);
            lock (gate)
            {
                current = (id, engine);
            }
        }

        lock (gate)
        {
            return engine.Predict(new FraudRow { Features = features }).Probability;
        }
    }

    /// <summary>Probabilities of the newest model for many rows (the console's precision and recall), or null without a model.</summary>
    public async Task<double[]?> PredictManyAsync(BillingDb db, IReadOnlyList<float[]> rows, CancellationToken cancellationToken)
    {
        var bytes = await db.FraudModels.AsNoTracking().OrderByDescending(m => m.TrainedAt).Select(m => m.Bytes).FirstOrDefaultAsync(cancellationToken);
        if (bytes is null)
        {
            return null;
        }

        using var stream = new MemoryStream(bytes);
        var model = ml.Model.Load(stream, out _);
        return rows.Count == 0 ? [] : [.. ml.Data.CreateEnumerable<FraudPrediction>(model.Transform(ml.Data.LoadFromEnumerable(rows.Select(f => new FraudRow { Features = f }))), reuseRowObject: false)
            .Select(p => (double)p.Probability)];
    }

    /// <summary>
    /// Trains a model when there are enough labels of both classes and a label is newer than the newest model; adds it to
    /// the context (the caller saves). Returns the model, or null when nothing was trained.
    /// </summary>
    public async Task<FraudModel?> TrainIfDueAsync(BillingDb db, CancellationToken cancellationToken)
    {
        var o = options.Value.Fraud;
        var labelled = await db.FraudAssessments.AsNoTracking().Where(a => a.Label != null).ToListAsync(cancellationToken);
        var frauds = labelled.Count(a => a.Label == FraudLabel.Fraud);
        if (labelled.Count < o.MinLabels || frauds < o.MinPerClass || labelled.Count - frauds < o.MinPerClass)
        {
            return null;
        }

        var newestModel = await db.FraudModels.AsNoTracking().OrderByDescending(m => m.TrainedAt).Select(m => (DateTimeOffset?)m.TrainedAt).FirstOrDefaultAsync(cancellationToken);
        var newestLabel = labelled.Max(a => a.LabelledAt);
        if (newestModel is { } trained && newestLabel is { } l && l <= trained)
        {
            return null;
        }

        var rows = labelled.Select(a => new FraudRow { Features = FraudScorer.Features(FraudScorer.SignalsOf(a), o), Label = a.Label == FraudLabel.Fraud }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var trainer = ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
        {
            FeatureColumnName = nameof(FraudRow.Features), LabelColumnName = nameof(FraudRow.Label), NumberOfIterations = 50, NumberOfLeaves = 8,
            MinimumExampleCountPerLeaf = Math.Max(1, Math.Min(10, rows.Count / 20)), LearningRate = 0.2, NumberOfThreads = 1, Seed = 1, Silent = true,
        });
        var model = trainer.Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        var saved = new FraudModel { Id = Guid.NewGuid(), TrainedAt = time.GetUtcNow(), Labels = labelled.Count, Frauds = frauds, Bytes = stream.ToArray() };
        db.FraudModels.Add(saved);
        return saved;
    }
}

internal sealed record FraudAssessmentView(Guid Id, Guid AccountId, DateTimeOffset At, string Purpose, long Amount, string Currency, int Score, double? ModelProbability,
    string Decision, IReadOnlyList<FraudReason> Reasons, string? Ip, string? IpCountry, string? CardCountry, string? AccountCountry, Guid? PaymentId, string? Label, string? LabelledBy)
{
    public static FraudAssessmentView Of(FraudAssessment a) => new(a.Id, a.AccountId, a.At, a.Purpose, a.Amount, a.Currency, a.Score, a.ModelProbability,
        a.Decision.ToString().ToLowerInvariant(), FraudScorer.Parse(a.Reasons), a.Ip, a.IpCountry, a.CardCountry, a.AccountCountry, a.PaymentId,
        a.Label?.ToString().ToLowerInvariant(), a.LabelledBy);
}

/// <summary>Precision and recall of one rule (fired = predicted fraud) or of the model (probability at least 0.5) on the labelled history.</summary>
internal sealed record FraudRuleMetrics(string Rule, string Description, int Fired, int TruePositives, double? Precision, double? Recall);

internal sealed record FraudSummary(int Labels, int Frauds, int MinLabels, DateTimeOffset? ModelTrainedAt, int? ModelLabels, IReadOnlyList<FraudRuleMetrics> Metrics);

internal sealed record FraudLabelInput([property: Required, RegularExpression("^(fraud|legitimate)$")] string Label);

/// <summary>The review queue, labels, training and the rules' and model's precision and recall, for finance.</summary>
internal sealed class FraudReview(BillingDb db, FraudModels models, IOptions<BillingOptions> options, TimeProvider time)
{
    /// <summary>Challenged, blocked and allowed-but-high-scoring attempts, unreviewed first, newest first.</summary>
    public async Task<IReadOnlyList<FraudAssessmentView>> QueueAsync(bool reviewed, CancellationToken cancellationToken)
    {
        var from = options.Value.Fraud.ReviewFrom;
        var rows = await db.FraudAssessments.AsNoTracking()
            .Where(a => (a.Decision != FraudDecision.Allow || a.Score >= from) && (reviewed ? a.Label != null : a.Label == null))
            .OrderByDescending(a => a.At).Take(200).ToListAsync(cancellationToken);
        return [.. rows.Select(FraudAssessmentView.Of)];
    }

    public async Task<FraudAssessmentView?> LabelAsync(Guid id, FraudLabel label, RequestActor actor, CancellationToken cancellationToken)
    {
        var a = await db.FraudAssessments.FirstOrDefaultAsync(x => x.Id == id, cancellationToken);
        if (a is null)
        {
            return null;
        }

        a.Label = label;
        a.LabelledBy = actor.Name;
        a.LabelledAt = time.GetUtcNow();
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, "billing.fraud-labelled", $"fraud-assessment:{a.Id}", actor.From, $"{label.ToString().ToLowerInvariant()} (score {a.Score}, {a.Decision})"), time.GetUtcNow()));
        await db.SaveChangesAsync(cancellationToken);
        return FraudAssessmentView.Of(a);
    }

    public async Task<FraudModel?> TrainAsync(CancellationToken cancellationToken)
    {
        var model = await models.TrainIfDueAsync(db, cancellationToken);
        if (model is not null)
        {
            await db.SaveChangesAsync(cancellationToken);
        }

        return model;
    }

    public async Task<FraudSummary> SummaryAsync(CancellationToken cancellationToken)
    {
        var o = options.Value.Fraud;
        var labelled = await db.FraudAssessments.AsNoTracking().Where(a => a.Label != null).OrderByDescending(a => a.LabelledAt).Take(20000).ToListAsync(cancellationToken);
        var truth = labelled.Select(a => a.Label == FraudLabel.Fraud).ToList();
        var fired = labelled.Select(a => FraudScorer.Fire(FraudScorer.SignalsOf(a), o).Select(r => r.Code).ToHashSet()).ToList();
        var metrics = FraudScorer.Rules.Select(r => Metrics(r.Code, r.Description, truth, fired.Select(f => f.Contains(r.Code)).ToList())).ToList();
        metrics.Add(Metrics("rules", $"the rules' score at least {o.ChallengeAt} (challenge or block)", truth,
            labelled.Select(a => Math.Min(100, FraudScorer.Fire(FraudScorer.SignalsOf(a), o).Sum(r => r.Points)) >= o.ChallengeAt).ToList()));
        var probabilities = await models.PredictManyAsync(db, [.. labelled.Select(a => FraudScorer.Features(FraudScorer.SignalsOf(a), o))], cancellationToken);
        if (probabilities is not null)
        {
            metrics.Add(Metrics(FraudScorer.Model, "the model's probability at least 0.5 (on the labels it was trained on)", truth, [.. probabilities.Select(p => p >= 0.5)]));
        }

        var model = await db.FraudModels.AsNoTracking().OrderByDescending(m => m.TrainedAt).Select(m => new { m.TrainedAt, m.Labels }).FirstOrDefaultAsync(cancellationToken);
        return new FraudSummary(labelled.Count, truth.Count(t => t), o.MinLabels, model?.TrainedAt, model?.Labels, metrics);
    }

    internal static FraudRuleMetrics Metrics(string rule, string description, IReadOnlyList<bool> truth, IReadOnlyList<bool> predicted)
    {
        int tp = 0, fp = 0, fn = 0;
        for (var i = 0; i < truth.Count; i++)
        {
            (tp, fp, fn) = (truth[i], predicted[i]) switch
            {
                (true, true) => (tp + 1, fp, fn),
                (false, true) => (tp, fp + 1, fn),
                (true, false) => (tp, fp, fn + 1),
                _ => (tp, fp, fn),
            };
        }

        return new FraudRuleMetrics(rule, description, tp + fp, tp, tp + fp == 0 ? null : (double)tp / (tp + fp), tp + fn == 0 ? null : (double)tp / (tp + fn));
    }
}
