using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DuckDB.NET.Data;
using Marquee.Analytics;
using Marquee.Platform;
using Marquee.Tests.Support;
using Microsoft.Extensions.Options;
using Microsoft.ML;

namespace Marquee.Tests.Analytics;

/// <summary>
/// Churn and conversion predictions on a generated warehouse (in the manner of <c>marquee simulate</c>) where churners
/// watch less, less often and with more stalls in the two weeks before they cancel, and converters watch more before they
/// pay: the models must find it (AUC over 0.7 on the later, held-out period); with shuffled labels they must not (≈ 0.5).
/// </summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class PredictionTests(GeneratedWarehouse generated, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<GeneratedWarehouse>
{
    [Theory]
    [InlineData("churn")]
    [InlineData("conversion")]
    public async Task A_model_trained_on_one_period_ranks_the_later_held_out_period_well(string kind)
    {
        var report = await generated.Predictions.TrainAsync(kind, GeneratedWarehouse.End, CancellationToken.None);
        output.WriteLine($"{kind}: AUC {report.Auc} on {report.EvaluationRows} users ({report.EvaluationPositives} positive); top driver {report.Drivers[0].Feature} {report.Drivers[0].Importance:P0}");
        Assert.Equal("ok", report.Status);
        Assert.True(report.EvaluationPositives >= 10 && report.EvaluationRows - report.EvaluationPositives >= 10, $"{report.EvaluationPositives}/{report.EvaluationRows}");
        Assert.NotNull(report.Auc);
        Assert.True(report.Auc > 0.7, $"AUC {report.Auc}");
        Assert.Contains("outcome 2026-06-16 to 2026-06-29", report.EvaluationPeriod, StringComparison.Ordinal); // the last 14 days
        Assert.Contains("outcome 2026-06-02 to 2026-06-15", report.TrainPeriod, StringComparison.Ordinal); // the 14 days before
        // The top driver is behaviour, not the plan or the tenure (which the generator made meaningless).
        Assert.DoesNotContain(report.Drivers[0].Feature, new[] { "Premium", "TenureDays" });
        Assert.Equal(1.0, report.Drivers.Sum(d => d.Importance), 3);
        Assert.NotEmpty(report.Highest);
        Assert.True(File.Exists(Path.Combine(generated.DataDir, "analytics", "models", $"{kind}.zip")));
        var saved = await generated.Predictions.ReportsAsync(CancellationToken.None);
        Assert.Equal(report.Auc, saved[kind]!.Auc);
    }

    [Theory]
    [InlineData("churn")]
    [InlineData("conversion")]
    public async Task With_shuffled_labels_the_held_out_AUC_is_near_one_half(string kind)
    {
        var train = await Predictions.FeaturesAsync(generated.Warehouse, kind, GeneratedWarehouse.End.AddDays(-28), CancellationToken.None);
        var evaluation = await Predictions.FeaturesAsync(generated.Warehouse, kind, GeneratedWarehouse.End.AddDays(-14), CancellationToken.None);
        var random = new Random(7);
        foreach (var set in new[] { train, evaluation })
        {
            var labels = set.Select(r => r.Label).OrderBy(_ => random.Next()).ToList();
            for (var i = 0; i < set.Count; i++)
            {
                set[i].Label = labels[i];
            }
        }

        var trained = Predictions.TrainAndEvaluate(new MLContext(seed: 1), train, evaluation);
        Assert.NotNull(trained);
        var auc = trained.Value.Auc!.Value;
        output.WriteLine($"{kind}, shuffled labels: AUC {auc}");
        Assert.InRange(auc, 0.35, 0.65);
    }

    [Fact]
    public void Auc_is_computed_by_hand_for_a_small_case()
    {
        // Positives at 0.9, 0.4; negatives at 0.5, 0.1: pairs (0.9>0.5, 0.9>0.1, 0.4<0.5, 0.4>0.1) = 3/4; a tie counts half.
        Assert.Equal(0.75, Predictions.Auc([true, true, false, false], [0.9, 0.4, 0.5, 0.1]));
        Assert.Equal(0.5, Predictions.Auc([true, false], [0.3, 0.3]));
        Assert.Null(Predictions.Auc([true, true], [0.3, 0.4]));
    }
}

/// <summary>A warehouse of 1,600 generated users over 100 days ending 2026-06-30, written straight into the warehouse tables.</summary>
public sealed class GeneratedWarehouse : IAsyncLifetime
{
    public static readonly DateOnly End = new(2026, 6, 30);

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "marquee-predictions-" + Guid.NewGuid().ToString("N"));

    internal Warehouse Warehouse { get; private set; } = null!;

    internal Predictions Predictions { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Warehouse = new Warehouse(Warehouse.PathIn(DataDir), readOnly: false);
        Predictions = new Predictions(Warehouse, Options.Create(new MarqueeOptions { DataDir = DataDir }), TimeProvider.System);
        await Warehouse.UseAsync(c => { Generate(c); return Task.FromResult(0); }, CancellationToken.None);
    }

    private static void Generate(DuckDBConnection c)
    {
        var random = new Random(42);
        var first = End.AddDays(-100);
        using var events = c.CreateAppender("events");
        using var sessions = c.CreateAppender("sessions");
        using var userDays = c.CreateAppender("user_days");
        void Subscription(string user, DateOnly day, string plan, string status)
        {
            var ts = day.ToDateTime(new TimeOnly(12, 0));
            var row = events.CreateRow();
            row.AppendValue($"{user}-{status}-{day}").AppendValue("subscription").AppendValue((DateTime?)ts).AppendValue((DateTime?)day.ToDateTime(TimeOnly.MinValue)).AppendValue((DateTime?)ts)
                .AppendValue(user);
            for (var i = 0; i < 4; i++)
            {
                row.AppendNullValue();
            }

            row.AppendValue(plan);
            for (var i = 0; i < 6; i++)
            {
                row.AppendNullValue();
            }

            row.AppendValue(status);
            for (var i = 0; i < 11; i++) // code, query, path, channel, the CMCD columns, given_plan, step and id_hash
            {
                row.AppendNullValue();
            }

            row.EndRow();
        }

        for (var u = 0; u < 1600; u++)
        {
            var user = $"gen-{u:D4}";
            var seen = first.AddDays(random.Next(50));
            var plan = random.NextDouble() < 0.3 ? "premium" : "standard";
            DateOnly? subscribed = null, cancelled = null;
            if (random.NextDouble() < 0.55)
            {
                subscribed = seen.AddDays(random.Next(4));
            }
            else if (random.NextDouble() < 0.5)
            {
                subscribed = seen.AddDays(10 + random.Next(85)); // a later conversion (maybe after the end)
            }

            if (subscribed is { } s && s < End)
            {
                Subscription(user, s, plan, "active");
                cancelled = s.AddDays(15 + random.Next(120)); // maybe after the end: not seen
                if (cancelled < End)
                {
                    Subscription(user, cancelled.Value, plan, "canceled");
                }
            }

            var device = random.NextDouble() < 0.5 ? "web" : "tv";
            for (var day = seen; day < End; day = day.AddDays(1))
            {
                var paying = subscribed <= day && (cancelled is null || day < cancelled);
                // Engagement: lower in the 14 days before a cancellation (and after it), higher in the 14 days before a conversion.
                var m = 1.0;
                var beforeCancel = cancelled is { } x && day < x && x.DayNumber - day.DayNumber <= 14;
                if (beforeCancel || (cancelled is { } y && day >= y))
                {
                    m = 0.3;
                }
                else if (!paying && subscribed is { } z && day < z && z.DayNumber - day.DayNumber <= 14)
                {
                    m = 1.8;
                }

                if (random.NextDouble() > Math.Min(0.95, 0.45 * m))
                {
                    continue;
                }

                var dayTime = day.ToDateTime(TimeOnly.MinValue);
                var ud = userDays.CreateRow();
                ud.AppendValue((DateTime?)dayTime).AppendValue(user).AppendValue(device).AppendValue("FR").AppendValue(paying ? plan : "free").AppendNullValue().EndRow(); // first_ts unknown
                var watch = 1500 * m * (0.3 + random.NextDouble());
                var stallMs = watch * 1000 * (beforeCancel ? 0.04 : 0.004) * random.NextDouble();
                var row = sessions.CreateRow();
                row.AppendValue($"{user}-{day}").AppendValue((DateTime?)dayTime).AppendValue(user).AppendNullValue().AppendNullValue().AppendValue("drama")
                    .AppendValue(device).AppendValue("FR").AppendValue(paying ? plan : "free").AppendValue((DateTime?)dayTime.AddHours(20)).AppendValue((DateTime?)dayTime.AddHours(21))
                    .AppendValue((bool?)true).AppendValue((bool?)true).AppendValue((bool?)(random.NextDouble() < 0.4 * m)).AppendValue((double?)watch).AppendValue((double?)3000)
                    .AppendValue((double?)watch).AppendValue((double?)800).AppendValue((long?)(stallMs > 0 ? 1 : 0)).AppendValue((double?)stallMs)
                    .AppendValue((long?)(random.NextDouble() < (beforeCancel ? 0.15 : 0.02) ? 1 : 0)).AppendValue((double?)3000).EndRow();
            }
        }
    }

    public async Task DisposeAsync()
    {
        await Warehouse.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // a temp folder left behind is harmless
        }
    }
}

/// <summary>Training through the operator API after a small simulated audience: answered, audited, shown in the console.</summary>
public sealed class PredictionApiTests(AnalyticsHost host) : IClassFixture<AnalyticsHost>
{
    [Fact]
    public async Task Training_is_an_audited_admin_action_and_the_console_shows_the_models()
    {
        var app = host.App;
        var sim = await app.Client.PostAsJsonAsync("/api/analytics/simulate", new { viewers = 120, days = 45, seed = 3 });
        Assert.Equal(HttpStatusCode.OK, sim.StatusCode);
        var accepted = (await sim.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetInt32();
        Assert.True(accepted > 1000);
        // The status also answers this machine without a sign-in (the benchmark polls it), like /api/analytics/kpi.
        var status = await app.AnonymousClient.GetFromJsonAsync<JsonElement>("/api/analytics/status");
        await AnalyticsSupport.CaughtUpAsync(app, status.GetProperty("lastSeq").GetInt64());

        var viewer = await app.ClientWithRolesAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync("/api/analytics/predictions/train", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await app.Client.PostAsync("/api/analytics/predictions/train?kind=weather", null)).StatusCode);

        var trained = await app.Client.PostAsync("/api/analytics/predictions/train?kind=churn", null);
        Assert.Equal(HttpStatusCode.OK, trained.StatusCode);
        var report = (await trained.Content.ReadFromJsonAsync<JsonElement>())[0];
        Assert.Equal("churn", report.GetProperty("kind").GetString());
        Assert.Contains(report.GetProperty("status").GetString(), new[] { "ok", "not-enough-data" });
        Assert.True(report.GetProperty("trainRows").GetInt32() > 0);

        var reports = await app.Client.GetFromJsonAsync<JsonElement>("/api/analytics/predictions");
        Assert.Equal("churn", reports.GetProperty("churn").GetProperty("kind").GetString());
        Assert.Equal(JsonValueKind.Null, reports.GetProperty("conversion").ValueKind);

        var audit = await app.Client.GetStringAsync("/console/compliance/audit?action=analytics.model-trained");
        Assert.Contains("model:churn", audit, StringComparison.Ordinal);
        var page = await app.Client.GetStringAsync("/console/analytics");
        Assert.Contains("Predictions", page, StringComparison.Ordinal);
        Assert.Contains("AUC (held-out period)", page, StringComparison.Ordinal);
        Assert.Contains(report.GetProperty("evaluationPeriod").GetString()!, page, StringComparison.Ordinal);
    }
}
