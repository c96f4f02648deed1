using System.Globalization;

namespace Marquee.Analytics;

/// <summary>Computes metrics of the catalogue over the warehouse.</summary>
internal sealed class MetricsService(Warehouse warehouse, ExchangeRateOptions? rates = null)
{
    /// <summary>Null with a reason when the question is not valid.</summary>
    public static string? Check(DateOnly from, DateOnly to, string grain, string by, IReadOnlyList<string> ids)
    {
        if (to < from)
        {
            return "'to' is before 'from'.";
        }

        if (to.DayNumber - from.DayNumber > 366 * 3)
        {
            return "At most three years at once.";
        }

        if (!MetricCatalogue.Grains.Contains(grain))
        {
            return "grain: day, week or month.";
        }

        if (by != "all" && !Pipeline.Dimensions.ContainsKey(by) && by != "channel")
        {
            return "by: title, genre, device, country, plan or channel (or none).";
        }

        return ids.FirstOrDefault(i => MetricCatalogue.Find(i) is null) is { } unknown ? $"Unknown metric '{unknown}'." : null;
    }

    public async Task<MetricsAnswer> ComputeAsync(DateOnly from, DateOnly to, string grain, string by, IReadOnlyList<string> ids, CancellationToken ct)
    {
        var definitions = ids.Count == 0 ? MetricCatalogue.All : ids.Select(i => MetricCatalogue.Find(i)!).ToList();
        var parameters = new Dictionary<string, object?>
        {
            ["from"] = from.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            ["to"] = to.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            ["dim"] = by,
        };
        var results = await warehouse.UseAsync(async c =>
        {
            var list = new List<MetricResult>();
            foreach (var m in definitions)
            {
                if (m.Sql is null)
                {
                    list.Add(Result(m, "no data yet", m.NoDataReason, []));
                    continue;
                }

                if (by != "all" && !m.Dimensions.Contains(by))
                {
                    list.Add(Result(m, "not by " + by, $"{m.Id} is kept by: {(m.Dimensions.Count == 0 ? "nothing (totals only)" : string.Join(", ", m.Dimensions))}", []));
                    continue;
                }

                var sql = MetricCatalogue.SqlFor(m, grain, by, rates);
                var used = parameters.Where(p => sql.Contains("$" + p.Key, StringComparison.Ordinal)).ToDictionary();
                var rows = await Warehouse.QueryAsync(c, sql, used, ct);
                var points = rows
                    .Select(r => new MetricPoint(Day(r[0]), Convert.ToString(r[1], CultureInfo.InvariantCulture) ?? "unknown", r[2] is null ? null : Convert.ToDouble(r[2], CultureInfo.InvariantCulture)))
                    .Where(p => p.Value is not null)
                    .OrderBy(p => p.Period, StringComparer.Ordinal).ThenBy(p => p.Dimension, StringComparer.Ordinal)
                    .ToList();
                list.Add(Result(m, points.Count == 0 ? "no data yet" : "ok", points.Count == 0 ? "no events in this range" : null, points));
            }

            return list;
        }, ct);
        return new MetricsAnswer(parameters["from"]!.ToString()!, parameters["to"]!.ToString()!, grain, by, results);
    }

    private static MetricResult Result(MetricDefinition m, string status, string? note, IReadOnlyList<MetricPoint> points) =>
        new(m.Id, m.Family, m.Name, m.Formula, m.Unit, m.Sources, m.Owner, status, note, points);

    private static string Day(object? value) => value switch
    {
        DateTime d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        null => "",
        _ => DateOnly.TryParse(value.ToString(), CultureInfo.InvariantCulture, out var d) ? d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : value.ToString()!,
    };
}

/// <summary>The funnel and the cohort grid of the dashboard.</summary>
internal sealed record FunnelStep(string Step, long Users);

internal sealed record CohortRow(string Cohort, long Size, IReadOnlyList<double?> Weeks);

internal static class Journeys
{
    public static Task<List<FunnelStep>> FunnelAsync(Warehouse warehouse, DateOnly from, DateOnly to, CancellationToken ct) => warehouse.UseAsync(async c =>
    {
        var rows = await Warehouse.QueryAsync(c, """
            WITH u AS (SELECT user_id, bool_or(type = 'sign_up') AS s, bool_or(type = 'first_frame') AS w, bool_or(type = 'payment') AS p
                       FROM events WHERE day BETWEEN CAST($from AS DATE) AND CAST($to AS DATE) AND user_id <> 'system' GROUP BY user_id)
            SELECT count(*), count(*) FILTER (WHERE s), count(*) FILTER (WHERE s AND w), count(*) FILTER (WHERE s AND w AND p) FROM u
            """, Range(from, to), ct);
        var r = rows[0];
        string[] steps = ["Visited", "Signed up", "Watched", "Paid"];
        return steps.Select((s, i) => new FunnelStep(s, Convert.ToInt64(r[i] ?? 0L, CultureInfo.InvariantCulture))).ToList();
    }, ct);

    /// <summary>Weekly sign-up cohorts: the share of each cohort active in each of the 8 weeks after signing up.</summary>
    public static Task<List<CohortRow>> CohortsAsync(Warehouse warehouse, DateOnly from, DateOnly to, CancellationToken ct) => warehouse.UseAsync(async c =>
    {
        var rows = await Warehouse.QueryAsync(c, """
            WITH s AS (SELECT user_id, min(day) AS d0 FROM events WHERE type = 'sign_up' GROUP BY user_id),
                 s2 AS (SELECT * FROM s WHERE d0 BETWEEN CAST($from AS DATE) AND CAST($to AS DATE)),
                 sizes AS (SELECT date_trunc('week', d0) AS cohort, count(*) AS n FROM s2 GROUP BY 1),
                 a AS (SELECT date_trunc('week', s2.d0) AS cohort, CAST(floor((u.day - s2.d0) / 7) AS INTEGER) AS w, count(DISTINCT s2.user_id) AS active
                       FROM s2 JOIN user_days u USING (user_id) WHERE u.day >= s2.d0 GROUP BY 1, 2)
            SELECT sizes.cohort, sizes.n, a.w, a.active FROM sizes LEFT JOIN a USING (cohort) WHERE a.w IS NULL OR a.w < 8 ORDER BY 1, 3
            """, Range(from, to), ct);
        return rows.GroupBy(r => Day(r[0])).Select(g =>
        {
            var size = Convert.ToInt64(g.First()[1], CultureInfo.InvariantCulture);
            var weeks = new double?[8];
            foreach (var r in g.Where(r => r[2] is not null))
            {
                weeks[Convert.ToInt32(r[2], CultureInfo.InvariantCulture)] = Convert.ToDouble(r[3], CultureInfo.InvariantCulture) / size;
            }

            return new CohortRow(g.Key, size, weeks);
        }).ToList();
    }, ct);

    private static Dictionary<string, object?> Range(DateOnly from, DateOnly to) => new()
    {
        ["from"] = from.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), ["to"] = to.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
    };

    private static string Day(object? value) => value switch
    {
        DateTime d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}

/// <summary>A title's (or its genre's) performance: completion distribution, drop-off curve, rewatch.</summary>
internal sealed record Performance(long Sessions, long Viewers, double? CompletionRate, double? Rewatch, IReadOnlyList<double> CompletionDeciles, IReadOnlyList<double> StillWatching);

internal sealed record TitlePerformance(string TitleId, string? Name, string? Genre, Performance Title, Performance GenreAverage);

internal static class ContentPerformance
{
    /// <summary>
    /// Over started sessions of the range: the share ending in each tenth of the timeline (completion deciles), the share
    /// still watching at 0 %, 10 %, ... 100 % of the duration (drop-off curve), and rewatch: viewers with more than one
    /// started session of the title / viewers. The genre's figures are over every title of the genre.
    /// </summary>
    public static Task<TitlePerformance> ForTitleAsync(Warehouse warehouse, Guid title, DateOnly from, DateOnly to, CancellationToken ct) => warehouse.UseAsync(async c =>
    {
        var p = new Dictionary<string, object?>
        {
            ["from"] = from.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), ["to"] = to.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), ["title"] = title.ToString(),
        };
        var meta = await Warehouse.QueryAsync(c, "SELECT name, genre FROM titles WHERE title_id = $title", new Dictionary<string, object?> { ["title"] = p["title"] }, ct);
        var name = meta.Count == 0 ? null : meta[0][0] as string;
        var genre = meta.Count == 0 ? null : meta[0][1] as string;
        var titleFigures = await FiguresAsync(c, "title_id = $title", p, ct);
        var genreFigures = await FiguresAsync(c, "genre = $genre", new Dictionary<string, object?>(p.Where(x => x.Key != "title")) { ["genre"] = genre ?? "unknown" }, ct);
        return new TitlePerformance(title.ToString(), name, genre, titleFigures, genreFigures);
    }, ct);

    private static async Task<Performance> FiguresAsync(DuckDB.NET.Data.DuckDBConnection c, string where, Dictionary<string, object?> p, CancellationToken ct)
    {
        var rows = await Warehouse.QueryAsync(c, $"""
            WITH s AS (SELECT user_id, title_id, completed, least(1.0, coalesce(max_position, 0) / nullif(duration, 0)) AS f
                       FROM sessions WHERE started AND duration > 0 AND day BETWEEN CAST($from AS DATE) AND CAST($to AS DATE) AND {where}),
                 v AS (SELECT user_id, title_id, count(*) AS n FROM s GROUP BY 1, 2)
            SELECT (SELECT count(*) FROM s), (SELECT count(DISTINCT user_id) FROM s), (SELECT avg(CASE WHEN completed THEN 1.0 ELSE 0.0 END) FROM s),
                   (SELECT avg(CASE WHEN n > 1 THEN 1.0 ELSE 0.0 END) FROM v),
                   (SELECT list(share ORDER BY k) FROM (SELECT k, coalesce((SELECT count(*) FROM s WHERE least(9, floor(f * 10)) = k), 0) / greatest(1, (SELECT count(*) FROM s)) AS share FROM range(10) t(k))),
                   (SELECT list(share ORDER BY k) FROM (SELECT k, coalesce((SELECT count(*) FROM s WHERE f >= k / 10.0), 0) / greatest(1, (SELECT count(*) FROM s)) AS share FROM range(11) t(k)))
            """, p, ct);
        var r = rows[0];
        static List<double> List(object? o) => o is System.Collections.IEnumerable e ? e.Cast<object?>().Select(x => Convert.ToDouble(x ?? 0.0, CultureInfo.InvariantCulture)).ToList() : [];
        return new Performance(Convert.ToInt64(r[0], CultureInfo.InvariantCulture), Convert.ToInt64(r[1], CultureInfo.InvariantCulture),
            r[2] is null ? null : Convert.ToDouble(r[2], CultureInfo.InvariantCulture), r[3] is null ? null : Convert.ToDouble(r[3], CultureInfo.InvariantCulture), List(r[4]), List(r[5]));
    }
}
