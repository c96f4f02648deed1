using System.Globalization;
using System.Text.Json;
using Marquee.Platform;
using Microsoft.Extensions.Options;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Marquee.Analytics;

/// <summary>One subscriber (or free user) at a cut-off day: engagement features from the warehouse and whether the outcome followed.</summary>
internal sealed class FeatureRow
{
    public string User { get; set; } = "";
    public bool Label { get; set; }
    public float WatchRecentMin { get; set; }
    public float WatchEarlierMin { get; set; }
    public float WatchTrend { get; set; }
    public float ActiveDays { get; set; }
    public float DaysSinceActive { get; set; }
    public float Sessions { get; set; }
    public float RebufferingRatio { get; set; }
    public float Errors { get; set; }
    public float CompletionRate { get; set; }
    public float TenureDays { get; set; }
    public float Premium { get; set; }

    public static readonly string[] FeatureNames =
    [
        nameof(WatchRecentMin), nameof(WatchEarlierMin), nameof(WatchTrend), nameof(ActiveDays), nameof(DaysSinceActive), nameof(Sessions),
        nameof(RebufferingRatio), nameof(Errors), nameof(CompletionRate), nameof(TenureDays), nameof(Premium),
    ];

    /// <summary>What each feature means, for the console.</summary>
    public static readonly IReadOnlyDictionary<string, string> Descriptions = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [nameof(WatchRecentMin)] = "watch time, last 14 days (min)",
        [nameof(WatchEarlierMin)] = "watch time, the 14 days before (min)",
        [nameof(WatchTrend)] = "watch time trend (last 14 days − the 14 before, min)",
        [nameof(ActiveDays)] = "active days of the last 28",
        [nameof(DaysSinceActive)] = "days since last active",
        [nameof(Sessions)] = "started sessions, last 28 days",
        [nameof(RebufferingRatio)] = "rebuffering ratio, last 28 days",
        [nameof(Errors)] = "player errors, last 28 days",
        [nameof(CompletionRate)] = "completion rate, last 28 days",
        [nameof(TenureDays)] = "tenure (days since first seen)",
        [nameof(Premium)] = "on the premium plan",
    };
}

internal sealed class ScoreRow
{
    public bool PredictedLabel { get; set; }
    public float Score { get; set; }
    public float Probability { get; set; }
}

internal sealed record Driver(string Feature, string Description, double Importance);

internal sealed record RiskEntry(string User, double Probability);

/// <summary>What a trained model says about itself: saved beside the model as JSON and shown in the console.</summary>
internal sealed record PredictionReport(
    string Kind, string Status, string? Note, DateTimeOffset TrainedAt, string TrainPeriod, string EvaluationPeriod, int TrainRows, int TrainPositives,
    int EvaluationRows, int EvaluationPositives, double? Auc, IReadOnlyList<Driver> Drivers, string ScoredAt, IReadOnlyList<RiskEntry> Highest);

/// <summary>
/// Churn and conversion predictions (A9.3). Engagement features are computed in the DuckDB warehouse for each user at a
/// cut-off day (the 28 days before it); the label is whether the outcome followed within the next 14 days: for churn,
/// a paying subscriber's subscription stopped being paying; for conversion, a user who was not paying started paying.
/// A FastTree model (ML.NET) is trained at cut-off <c>end − 28</c> (labels from the 14 days after it) and evaluated, by
/// AUC, at cut-off <c>end − 14</c>: a later period it never saw. Then every user is scored at <c>end</c>. The model and
/// its report are saved under <c>&lt;DataDir&gt;/analytics/models/</c>.
/// </summary>
internal sealed class Predictions(Warehouse warehouse, IOptions<MarqueeOptions> options, TimeProvider time)
{
    public const int WindowDays = 28;
    public const int HorizonDays = 14;
    public static readonly string[] Kinds = ["churn", "conversion"];
    private const string PayingStatuses = "('active', 'pastdue')";

    private string Dir => Path.Combine(options.Value.FullDataDir, "analytics", "models");

    /// <summary>The features of every user of the population at <paramref name="cut"/>, with the label over the 14 days after it.</summary>
    public static async Task<List<FeatureRow>> FeaturesAsync(Warehouse warehouse, string kind, DateOnly cut, CancellationToken ct)
    {
        static string D(DateOnly d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var from = D(cut.AddDays(-WindowDays));
        var mid = D(cut.AddDays(-WindowDays / 2));
        var c = D(cut);
        var labelEnd = D(cut.AddDays(HorizonDays));
        var population = kind == "churn"
            ? $"SELECT user_id, plan FROM state WHERE status IN {PayingStatuses}"
            : $"SELECT s.user_id, 'free' AS plan FROM seen s LEFT JOIN state t USING (user_id) WHERE s.last_day >= DATE '{from}' AND (t.status IS NULL OR t.status NOT IN {PayingStatuses})";
        var label = kind == "churn"
            ? $"status NOT IN {PayingStatuses}"
            : $"status IN {PayingStatuses}";
        var sql = $"""
            WITH subs AS (SELECT user_id, ts, status, plan FROM events WHERE type = 'subscription'),
            state AS (SELECT user_id, arg_max(status, ts) AS status, arg_max(plan, ts) AS plan FROM subs WHERE ts < TIMESTAMP '{c}' GROUP BY user_id),
            seen AS (SELECT user_id, min(day) AS first_day, max(day) AS last_day,
                       count(DISTINCT day) FILTER (WHERE day >= DATE '{from}') AS active_days
                     FROM user_days WHERE day < DATE '{c}' GROUP BY user_id),
            watch AS (SELECT user_id,
                       coalesce(sum(watch_s) FILTER (WHERE day >= DATE '{mid}'), 0) / 60 AS recent_min,
                       coalesce(sum(watch_s) FILTER (WHERE day < DATE '{mid}'), 0) / 60 AS earlier_min,
                       count(*) FILTER (WHERE started) AS sessions,
                       count(*) FILTER (WHERE completed) AS completed,
                       coalesce(sum(rebuffer_ms), 0) AS stall_ms, coalesce(sum(watch_s), 0) AS watch_s, coalesce(sum(errors), 0) AS errors
                     FROM sessions WHERE day >= DATE '{from}' AND day < DATE '{c}' GROUP BY user_id),
            outcome AS (SELECT DISTINCT user_id FROM subs WHERE ts >= TIMESTAMP '{c}' AND ts < TIMESTAMP '{labelEnd}' AND {label}),
            pop AS ({population})
            SELECT p.user_id, o.user_id IS NOT NULL,
              coalesce(w.recent_min, 0), coalesce(w.earlier_min, 0), coalesce(w.recent_min, 0) - coalesce(w.earlier_min, 0),
              coalesce(s.active_days, 0), coalesce(DATE '{c}' - s.last_day, {WindowDays + 1}), coalesce(w.sessions, 0),
              CASE WHEN coalesce(w.watch_s, 0) * 1000 + coalesce(w.stall_ms, 0) > 0 THEN w.stall_ms / (w.watch_s * 1000 + w.stall_ms) ELSE 0 END,
              coalesce(w.errors, 0), CASE WHEN coalesce(w.sessions, 0) > 0 THEN w.completed / w.sessions ELSE 0 END,
              coalesce(DATE '{c}' - s.first_day, 0), CASE WHEN p.plan = 'premium' THEN 1 ELSE 0 END
            FROM pop p LEFT JOIN seen s USING (user_id) LEFT JOIN watch w USING (user_id) LEFT JOIN outcome o USING (user_id)
            ORDER BY p.user_id
            """;
        var rows = await warehouse.QueryAsync(sql, new Dictionary<string, object?>(), ct);
        static float F(object? v) => v switch { null => 0f, System.Numerics.BigInteger b => (float)b, _ => Convert.ToSingle(v, CultureInfo.InvariantCulture) }; // sums of BIGINT are HUGEINT
        return [.. rows.Select(r => new FeatureRow
        {
            User = (string)r[0]!, Label = (bool)r[1]!, WatchRecentMin = F(r[2]), WatchEarlierMin = F(r[3]), WatchTrend = F(r[4]),
            ActiveDays = F(r[5]), DaysSinceActive = F(r[6]), Sessions = F(r[7]), RebufferingRatio = F(r[8]), Errors = F(r[9]),
            CompletionRate = F(r[10]), TenureDays = F(r[11]), Premium = F(r[12]),
        })];
    }

    /// <summary>The trained model and its evaluation on a later, held-out set; null when the training set cannot train one.</summary>
    public static (ITransformer Model, DataViewSchema Schema, double? Auc, IReadOnlyList<Driver> Drivers)? TrainAndEvaluate(
        MLContext ml, IReadOnlyList<FeatureRow> train, IReadOnlyList<FeatureRow> evaluation)
    {
        var positives = train.Count(r => r.Label);
        if (train.Count < 30 || positives < 5 || train.Count - positives < 5)
        {
            return null;
        }

        var data = ml.Data.LoadFromEnumerable(train);
        var pipeline = ml.Transforms.Concatenate("Features", FeatureRow.FeatureNames)
            .Append(ml.BinaryClassification.Trainers.FastTree(new Microsoft.ML.Trainers.FastTree.FastTreeBinaryTrainer.Options
            {
                NumberOfLeaves = 8, NumberOfTrees = 60, MinimumExampleCountPerLeaf = Math.Max(2, Math.Min(10, train.Count / 20)), LearningRate = 0.1,
                NumberOfThreads = 1, FeatureFractionPerSplit = 1, FeatureFraction = 1,
            }));
        var model = pipeline.Fit(data);
        var weights = default(VBuffer<float>);
        model.LastTransformer.Model.SubModel.GetFeatureWeights(ref weights);
        var dense = weights.DenseValues().ToArray();
        var total = dense.Sum();
        var drivers = FeatureRow.FeatureNames.Select((name, i) => new Driver(name, FeatureRow.Descriptions[name], total > 0 && i < dense.Length ? dense[i] / total : 0))
            .OrderByDescending(d => d.Importance).ToList();
        var scores = Score(ml, model, evaluation);
        return (model, data.Schema, Auc([.. evaluation.Select(r => r.Label)], scores), drivers);
    }

    public static double[] Score(MLContext ml, ITransformer model, IReadOnlyList<FeatureRow> rows) =>
        rows.Count == 0 ? [] : [.. ml.Data.CreateEnumerable<ScoreRow>(model.Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false).Select(s => (double)s.Probability)];

    /// <summary>Area under the ROC curve (Mann–Whitney, ties counted half); null when the set has only one class.</summary>
    public static double? Auc(IReadOnlyList<bool> labels, IReadOnlyList<double> scores)
    {
        var ranked = labels.Zip(scores).OrderBy(p => p.Second).ToList();
        long pos = ranked.Count(p => p.First), neg = ranked.Count - pos;
        if (pos == 0 || neg == 0)
        {
            return null;
        }

        double rankSum = 0;
        for (var i = 0; i < ranked.Count;)
        {
            int j = i, positivesHere = 0;
            while (j < ranked.Count && ranked[j].Second.Equals(ranked[i].Second))
            {
                positivesHere += ranked[j].First ? 1 : 0;
                j++;
            }

            rankSum += positivesHere * ((i + 1 + j) / 2.0); // the mean of ranks i+1 .. j
            i = j;
        }

        return (rankSum - pos * (pos + 1) / 2.0) / (pos * (double)neg);
    }

    /// <summary>Trains, evaluates and scores one kind up to <paramref name="end"/> (default: today), saves the model and report.</summary>
    public async Task<PredictionReport> TrainAsync(string kind, DateOnly? end, CancellationToken ct)
    {
        var last = end ?? DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var evalCut = last.AddDays(-HorizonDays);
        var trainCut = evalCut.AddDays(-HorizonDays);
        var train = await FeaturesAsync(warehouse, kind, trainCut, ct);
        var evaluation = await FeaturesAsync(warehouse, kind, evalCut, ct);
        var current = await FeaturesAsync(warehouse, kind, last, ct);
        static string Period(DateOnly cut) => string.Create(CultureInfo.InvariantCulture, $"features {cut.AddDays(-WindowDays):yyyy-MM-dd} to {cut.AddDays(-1):yyyy-MM-dd}, outcome {cut:yyyy-MM-dd} to {cut.AddDays(HorizonDays - 1):yyyy-MM-dd}");
        var ml = new MLContext(seed: 1);
        var trained = TrainAndEvaluate(ml, train, evaluation);
        Directory.CreateDirectory(Dir);
        PredictionReport report;
        if (trained is not { } t)
        {
            report = new PredictionReport(kind, "not-enough-data", "The training period needs at least 30 users with 5 of each outcome.", time.GetUtcNow(),
                Period(trainCut), Period(evalCut), train.Count, train.Count(r => r.Label), evaluation.Count, evaluation.Count(r => r.Label), null, [],
                last.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), []);
        }
        else
        {
            var scores = Score(ml, t.Model, current);
            var highest = current.Zip(scores).OrderByDescending(p => p.Second).Take(20).Select(p => new RiskEntry(p.First.User, Math.Round(p.Second, 4))).ToList();
            var temp = Path.Combine(Dir, $"{kind}.zip.tmp");
            ml.Model.Save(t.Model, t.Schema, temp);
            File.Move(temp, Path.Combine(Dir, $"{kind}.zip"), overwrite: true);
            report = new PredictionReport(kind, "ok", t.Auc is null ? "The evaluation period has only one outcome: no AUC." : null, time.GetUtcNow(),
                Period(trainCut), Period(evalCut), train.Count, train.Count(r => r.Label), evaluation.Count, evaluation.Count(r => r.Label),
                t.Auc is { } a ? Math.Round(a, 4) : null, t.Drivers, last.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), highest);
        }

        var json = Path.Combine(Dir, $"{kind}.json");
        await File.WriteAllTextAsync(json + ".tmp", JsonSerializer.Serialize(report, JsonSerializerOptions.Web), ct);
        File.Move(json + ".tmp", json, overwrite: true);
        return report;
    }

    /// <summary>The saved reports (null for a kind never trained).</summary>
    public async Task<Dictionary<string, PredictionReport?>> ReportsAsync(CancellationToken ct)
    {
        var answer = new Dictionary<string, PredictionReport?>(StringComparer.Ordinal);
        foreach (var kind in Kinds)
        {
            var path = Path.Combine(Dir, $"{kind}.json");
            answer[kind] = File.Exists(path) ? JsonSerializer.Deserialize<PredictionReport>(await File.ReadAllTextAsync(path, ct), JsonSerializerOptions.Web) : null;
        }

        return answer;
    }
}
