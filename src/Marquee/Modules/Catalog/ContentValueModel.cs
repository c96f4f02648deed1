// The content-value model alone, with no dependency beyond the base library: bench/ContentValueBench compiles this very file
// to measure it on MovieLens (docs/benchmarks.md).
namespace Marquee.Catalog;

/// <summary>What the estimate compares titles on: genre and tag names, people (cast and crew), collection (series, album, show), release year.</summary>
internal sealed record ValueFeatures(IReadOnlySet<string> Genres, IReadOnlySet<string> People, IReadOnlySet<string> Tags, string? Collection, int? Year)
{
    public static ValueFeatures Of(IEnumerable<string> genres, IEnumerable<string> people, IEnumerable<string> tags, string? collection, int? year) => new(
        Set(genres), Set(people), Set(tags), string.IsNullOrWhiteSpace(collection) ? null : collection.Trim().ToLowerInvariant(), year);

    private static HashSet<string> Set(IEnumerable<string> values) =>
        values.Select(v => v.Trim().ToLowerInvariant()).Where(v => v.Length > 0).ToHashSet(StringComparer.Ordinal);
}

/// <summary>A title with history: its features, views (plays), and revenue per currency (may be empty).</summary>
internal sealed record ValueHistory(Guid Id, string Name, ValueFeatures Features, double Views, IReadOnlyDictionary<string, decimal> Revenue);

/// <summary>A comparable title and why: its similarity (0..1), views, and the features it shares with the candidate.</summary>
internal sealed record ValueNeighbour(Guid Id, string Name, double Similarity, double Views, IReadOnlyList<string> SharedGenres,
    IReadOnlyList<string> SharedPeople, IReadOnlyList<string> SharedTags, bool SameCollection, int? YearGap);

/// <summary>How much of the neighbours' similarity a feature group supplied (shares sum to 1), and the values that matched most.</summary>
internal sealed record ValueDriver(string Feature, double Share, IReadOnlyList<string> TopMatches);

internal sealed record RevenueEstimate(string Currency, decimal Amount);

internal sealed record ValueEstimate(double ExpectedViews, IReadOnlyList<RevenueEstimate> ExpectedRevenue, IReadOnlyList<ValueDriver> Drivers,
    IReadOnlyList<ValueNeighbour> Neighbours, int HistorySize, string Method);

/// <summary>
/// Content value (SCOPE A1.3): a k-nearest-neighbour estimate over title features. Similarity is a weighted mean of Jaccard
/// overlaps (genres 0.4, people 0.2, tags 0.2), same collection (0.1) and release-year proximity 1/(1 + |Δyears|/10) (0.1),
/// over the groups the candidate has. The expected views are the similarity-weighted mean of log(1 + views) of the
/// <see cref="K"/> most similar titles, shrunk towards the mean of all titles with weight <see cref="Shrinkage"/>, then
/// exp − 1; revenue the same per currency (plain, not log). Measured on MovieLens by <c>bench/content-value.sh</c>
/// (docs/benchmarks.md).
/// </summary>
internal static class ContentValueModel
{
    public const int K = 20;

    public const double Shrinkage = 1.0;

    private static readonly (string Name, double Weight)[] Groups = [("genres", 0.4), ("people", 0.2), ("tags", 0.2), ("collection", 0.1), ("year", 0.1)];

    public static string Method =>
        $"k-nearest neighbours (k = {K}): similarity = weighted Jaccard overlap of genres (0.4), people (0.2), tags (0.2), same collection (0.1), " +
        $"year proximity (0.1), over the features the candidate has; expected views = exp(similarity-weighted mean of ln(1 + views), shrunk to the catalogue mean with weight {Shrinkage}) − 1.";

    public static ValueEstimate Estimate(ValueFeatures candidate, IReadOnlyList<ValueHistory> history, int k = K)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(history);
        if (history.Count == 0)
        {
            return new ValueEstimate(0, [], [], [], 0, Method);
        }

        var present = Groups.Where(g => g.Name switch
        {
            "genres" => candidate.Genres.Count > 0,
            "people" => candidate.People.Count > 0,
            "tags" => candidate.Tags.Count > 0,
            "collection" => candidate.Collection is not null,
            _ => candidate.Year is not null,
        }).ToList();
        var totalWeight = present.Sum(g => g.Weight);

        var scored = new List<(ValueHistory Title, double Similarity, Dictionary<string, double> Parts)>();
        foreach (var h in history)
        {
            var parts = new Dictionary<string, double>();
            foreach (var (name, weight) in present)
            {
                var part = name switch
                {
                    "genres" => Jaccard(candidate.Genres, h.Features.Genres),
                    "people" => Jaccard(candidate.People, h.Features.People),
                    "tags" => Jaccard(candidate.Tags, h.Features.Tags),
                    "collection" => string.Equals(candidate.Collection, h.Features.Collection, StringComparison.Ordinal) ? 1 : 0,
                    _ => h.Features.Year is { } y ? 1.0 / (1 + Math.Abs(candidate.Year!.Value - y) / 10.0) : 0,
                };
                parts[name] = weight * part / totalWeight;
            }

            var similarity = parts.Values.Sum();
            if (similarity > 0)
            {
                scored.Add((h, similarity, parts));
            }
        }

        // Ties are broken by id, neutrally: by views they would favour popular titles (measured: an upward bias).
        var neighbours = scored.OrderByDescending(s => s.Similarity).ThenBy(s => s.Title.Id).Take(k).ToList();
        var meanLog = history.Average(h => Math.Log(1 + h.Views));
        var weightSum = neighbours.Sum(n => n.Similarity);
        var predictedLog = (neighbours.Sum(n => n.Similarity * Math.Log(1 + n.Title.Views)) + Shrinkage * meanLog) / (weightSum + Shrinkage);
        var views = Math.Max(0, Math.Exp(predictedLog) - 1);

        var currencies = history.SelectMany(h => h.Revenue.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var revenue = currencies.Select(c =>
        {
            var mean = history.Average(h => h.Revenue.GetValueOrDefault(c));
            var value = (neighbours.Sum(n => (decimal)n.Similarity * n.Title.Revenue.GetValueOrDefault(c)) + (decimal)Shrinkage * mean) / ((decimal)weightSum + (decimal)Shrinkage);
            return new RevenueEstimate(c, Math.Round(value, 2, MidpointRounding.ToEven));
        }).ToList();

        var drivers = present.Select(g =>
        {
            var share = weightSum == 0 ? 0 : neighbours.Sum(n => n.Parts[g.Name]) / weightSum;
            IEnumerable<string> matches = g.Name switch
            {
                "genres" => neighbours.SelectMany(n => n.Title.Features.Genres.Intersect(candidate.Genres)),
                "people" => neighbours.SelectMany(n => n.Title.Features.People.Intersect(candidate.People)),
                "tags" => neighbours.SelectMany(n => n.Title.Features.Tags.Intersect(candidate.Tags)),
                "collection" => neighbours.Where(n => n.Parts["collection"] > 0).Select(_ => candidate.Collection!),
                _ => [],
            };
            return new ValueDriver(g.Name, Math.Round(share, 3),
                [.. matches.GroupBy(m => m).OrderByDescending(x => x.Count()).ThenBy(x => x.Key, StringComparer.Ordinal).Take(5).Select(x => $"{x.Key} ({x.Count()})")]);
        }).OrderByDescending(d => d.Share).ToList();

        return new ValueEstimate(Math.Round(views, 1), revenue, drivers,
            [.. neighbours.Select(n => new ValueNeighbour(n.Title.Id, n.Title.Name, Math.Round(n.Similarity, 3), n.Title.Views,
                [.. n.Title.Features.Genres.Intersect(candidate.Genres).Order(StringComparer.Ordinal)],
                [.. n.Title.Features.People.Intersect(candidate.People).Order(StringComparer.Ordinal)],
                [.. n.Title.Features.Tags.Intersect(candidate.Tags).Order(StringComparer.Ordinal)],
                candidate.Collection is not null && n.Parts.GetValueOrDefault("collection") > 0,
                candidate.Year is { } cy && n.Title.Features.Year is { } ny ? Math.Abs(cy - ny) : null))],
            history.Count, Method);
    }

    private static double Jaccard(IReadOnlySet<string> a, IReadOnlySet<string> b)
    {
        if (a.Count == 0 || b.Count == 0)
        {
            return 0;
        }

        var common = a.Count(b.Contains);
        return (double)common / (a.Count + b.Count - common);
    }
}

