using System.Globalization;

namespace Marquee.Analytics;

/// <summary>Computes metrics of the catalogue over the warehouse.</summary>
internal sealed class MetricsService(Warehouse warehouse)
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

                var sql = MetricCatalogue.SqlFor(m, grain, by);
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
