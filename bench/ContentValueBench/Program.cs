using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Marquee.Catalog;

// Held-out evaluation of the content-value estimate (ContentValueModel, k nearest neighbours) on MovieLens ml-latest-small:
// views = number of ratings of a movie (a proxy), features = genres, tags (lower-cased), release year from the title.
// Movies with at least one rating are shuffled with a fixed seed; one fifth (held out) is predicted from the other four fifths.
// Errors are in ln(1 + views) (the model works in that space; a heavy-tailed count), against two baselines.
var folder = args.Length > 0 ? args[0] : Path.Combine("..", "shared", "data", "movielens", "ml-latest-small");
foreach (var file in new[] { "movies.csv", "ratings.csv", "tags.csv" })
{
    if (!File.Exists(Path.Combine(folder, file)))
    {
        await Console.Error.WriteLineAsync($"content-value: {Path.Combine(folder, file)} is absent: this evaluation needs MovieLens ml-latest-small from the shared data folder (../shared/data/movielens).");
        return 2;
    }
}

var clock = Stopwatch.StartNew();
var views = new Dictionary<int, int>();
foreach (var row in Csv.Rows(Path.Combine(folder, "ratings.csv")))
{
    var id = int.Parse(row[1], CultureInfo.InvariantCulture);
    views[id] = views.GetValueOrDefault(id) + 1;
}

var tags = new Dictionary<int, HashSet<string>>();
foreach (var row in Csv.Rows(Path.Combine(folder, "tags.csv")))
{
    var id = int.Parse(row[1], CultureInfo.InvariantCulture);
    (tags.TryGetValue(id, out var set) ? set : tags[id] = new HashSet<string>(StringComparer.Ordinal)).Add(row[2].Trim().ToLowerInvariant());
}

var year = new Regex(@"\((\d{4})\)\s*$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
var movies = new List<(ValueHistory Title, ValueHistory NoTags, ValueHistory GenresOnly)>();
foreach (var row in Csv.Rows(Path.Combine(folder, "movies.csv")))
{
    var id = int.Parse(row[0], CultureInfo.InvariantCulture);
    if (!views.TryGetValue(id, out var count))
    {
        continue;
    }

    var genres = row[2] == "(no genres listed)" ? [] : row[2].Split('|');
    var match = year.Match(row[1]);
    int? released = match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    var guid = new Guid(id, 0, 0, new byte[8]);
    var full = ValueFeatures.Of(genres, [], tags.GetValueOrDefault(id) ?? [], null, released);
    var noTags = ValueFeatures.Of(genres, [], [], null, released);
    var genresOnly = ValueFeatures.Of(genres, [], [], null, null);
    var none = new Dictionary<string, decimal>();
    movies.Add((new ValueHistory(guid, row[1], full, count, none), new ValueHistory(guid, row[1], noTags, count, none), new ValueHistory(guid, row[1], genresOnly, count, none)));
}

var random = new Random(20261126);
var order = movies.OrderBy(_ => random.Next()).ToList();
const int folds = 5;
var results = new Dictionary<string, List<(double Actual, double Predicted)>>(StringComparer.Ordinal)
{
    ["constant (mean of ln(1+views))"] = [],
    ["kNN: genres only"] = [],
    ["kNN: genres + year"] = [],
    ["kNN: genres + year + tags"] = [],
};
for (var fold = 0; fold < 1; fold++)
{
    var test = order.Where((_, i) => i % folds == fold).ToList();
    var train = order.Where((_, i) => i % folds != fold).ToList();
    var mean = train.Average(m => Math.Log(1 + m.Title.Views));
    List<ValueHistory> trainFull = [.. train.Select(m => m.Title)], trainNoTags = [.. train.Select(m => m.NoTags)], trainGenres = [.. train.Select(m => m.GenresOnly)];
    foreach (var m in test)
    {
        var actual = Math.Log(1 + m.Title.Views);
        results["constant (mean of ln(1+views))"].Add((actual, mean));
        results["kNN: genres only"].Add((actual, Math.Log(1 + ContentValueModel.Estimate(m.GenresOnly.Features, trainGenres).ExpectedViews)));
        results["kNN: genres + year"].Add((actual, Math.Log(1 + ContentValueModel.Estimate(m.NoTags.Features, trainNoTags).ExpectedViews)));
        results["kNN: genres + year + tags"].Add((actual, Math.Log(1 + ContentValueModel.Estimate(m.Title.Features, trainFull).ExpectedViews)));
    }
}

var output = new StringBuilder();
output.AppendLine(CultureInfo.InvariantCulture, $"MovieLens ml-latest-small: {movies.Count} movies with ratings ({views.Values.Sum()} ratings), {tags.Count} with tags; one held-out fifth ({movies.Count / folds} titles); k = {ContentValueModel.K}");
output.AppendLine("| model | MAE ln(1+views) | RMSE ln(1+views) | within 2x | Spearman |");
output.AppendLine("|---|---|---|---|---|");
foreach (var (name, pairs) in results)
{
    var mae = pairs.Average(p => Math.Abs(p.Actual - p.Predicted));
    var rmse = Math.Sqrt(pairs.Average(p => (p.Actual - p.Predicted) * (p.Actual - p.Predicted)));
    var within = pairs.Count(p => Math.Abs(p.Actual - p.Predicted) <= Math.Log(2)) / (double)pairs.Count;
    output.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {mae:0.000} | {rmse:0.000} | {within:P1} | {Spearman(pairs):0.000} |");
}

output.AppendLine(CultureInfo.InvariantCulture, $"({clock.Elapsed.TotalSeconds:0.0} s)");
Console.Write(output.ToString());
return 0;

static double Spearman(List<(double Actual, double Predicted)> pairs)
{
    var a = Ranks([.. pairs.Select(p => p.Actual)]);
    var b = Ranks([.. pairs.Select(p => p.Predicted)]);
    double ma = a.Average(), mb = b.Average();
    var cov = a.Zip(b).Sum(x => (x.First - ma) * (x.Second - mb));
    var va = Math.Sqrt(a.Sum(x => (x - ma) * (x - ma)));
    var vb = Math.Sqrt(b.Sum(x => (x - mb) * (x - mb)));
    return va == 0 || vb == 0 ? 0 : cov / (va * vb);
}

static double[] Ranks(double[] values)
{
    var order = values.Select((v, i) => (v, i)).OrderBy(x => x.v).ToArray();
    var ranks = new double[values.Length];
    for (var i = 0; i < order.Length;)
    {
        var j = i;
        while (j + 1 < order.Length && order[j + 1].v == order[i].v)
        {
            j++;
        }

        for (var k = i; k <= j; k++)
        {
            ranks[order[k].i] = (i + j) / 2.0 + 1;
        }

        i = j + 1;
    }

    return ranks;
}

/// <summary>RFC 4180 rows (quoted fields with commas and doubled quotes), the header skipped.</summary>
internal static class Csv
{
    public static IEnumerable<string[]> Rows(string path)
    {
        var first = true;
        foreach (var line in File.ReadLines(path))
        {
            if (first)
            {
                first = false;
                continue;
            }

            var fields = new List<string>();
            var field = new StringBuilder();
            var quoted = false;
            for (var i = 0; i < line.Length; i++)
            {
                var c = line[i];
                if (quoted)
                {
                    if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                    {
                        field.Append('"');
                        i++;
                    }
                    else if (c == '"')
                    {
                        quoted = false;
                    }
                    else
                    {
                        field.Append(c);
                    }
                }
                else if (c == '"')
                {
                    quoted = true;
                }
                else if (c == ',')
                {
                    fields.Add(field.ToString());
                    field.Clear();
                }
                else if (c != '\r')
                {
                    field.Append(c);
                }
            }

            fields.Add(field.ToString());
            yield return [.. fields];
        }
    }
}
