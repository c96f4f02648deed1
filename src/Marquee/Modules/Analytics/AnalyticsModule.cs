using System.Globalization;
using System.Security.Claims;
using Marquee.Analytics.Contracts;
using Marquee.Analytics.Data;
using Marquee.Billing.Contracts;
using Marquee.Delivery.Contracts;
using Marquee.Identity.Contracts;
using Marquee.Media.Contracts;
using Marquee.Platform;
using Marquee.Platform.Audit;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Analytics;

/// <summary>
/// Analytics: the event beacon (player and app telemetry), other modules' domain events into the same stream, the
/// pipeline from a durable spool into a DuckDB warehouse, the metric catalogue K1-K12, the console dashboard with its live
/// view, and a simulated audience. See docs/analytics.md.
/// </summary>
public static partial class AnalyticsModule
{
    public static IServiceCollection AddAnalytics(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddModuleDb<AnalyticsDb, SqliteAnalyticsDb, PostgresAnalyticsDb>(configuration);
        services.AddSingleton<EtlSignal>();
        services.AddSingleton<Warehouse>();
        services.AddSingleton<Pipeline>();
        services.AddSingleton(sp => new MetricsService(sp.GetRequiredService<Warehouse>(), sp.GetRequiredService<IOptions<AnalyticsOptions>>().Value.ExchangeRates));
        services.AddSingleton<Predictions>();
        services.AddSingleton<LiveView>();
        services.AddOptions<AnalyticsOptions>().BindConfiguration(AnalyticsOptions.Section);
        services.AddSingleton<EventSpool>();
        services.AddSingleton<QuarantineStore>();
        services.AddSingleton<CmcdFeed>();
        services.AddSingleton<IPlaybackTelemetry>(sp => sp.GetRequiredService<CmcdFeed>());
        services.AddScoped<Collector>();
        services.AddScoped<Simulator>();
        services.AddEventHandler<SecurityEvent, DomainFeed>();
        services.AddEventHandler<PlaybackStarted, DomainFeed>();
        services.AddEventHandler<PlaybackEnded, DomainFeed>();
        services.AddEventHandler<PaymentSucceeded, DomainFeed>();
        services.AddEventHandler<SubscriptionChanged, DomainFeed>();
        services.AddEventHandler<AssetReady, DomainFeed>();
        services.AddEventHandler<AccountDeleted, AccountErasure>();
        services.AddScoped<Marquee.Platform.Privacy.IPersonalData>(sp => sp.GetRequiredService<AccountErasure>());
        services.AddSignalR();
        services.AddConsoleLink("Analytics", "Metrics and live view", "/console/analytics");
        var marquee = configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions();
        if (marquee.HasRole("worker"))
        {
            services.AddHostedService<PipelineWorker>();
        }

        if (marquee.HasRole("web"))
        {
            services.AddHostedService<LivePusher>();
        }

        return services;
    }

    public static RouteGroupBuilder MapAnalytics(this IEndpointRouteBuilder endpoints)
    {
        var root = endpoints.MapGroup("").WithTags("Analytics");

        root.MapPost("/events", async (HttpContext http, Collector collector, IClientCountry country, IOptions<AnalyticsOptions> options, CancellationToken ct) =>
            {
                try
                {
                    var gzip = http.Request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase);
                    using var body = new PooledBuffer(); // the items point into it until the batch is stored
                    var (items, error) = await Collector.ReadBodyAsync(http.Request.Body, gzip, body, ct);
                    if (items is null)
                    {
                        await collector.QuarantineRequestAsync(error!, ct);
                        return Results.Problem(title: "Unreadable batch", detail: error, statusCode: 400);
                    }

                    var user = http.User.FindFirstValue(ClaimTypes.NameIdentifier);
                    var result = await collector.IngestAsync(items, trusted: false, country.Current(), user, backfill: false, ct);
                    if (result.Accepted == 0 && result.Duplicates == 0)
                    {
                        return Results.Problem(title: "No valid event in the batch", detail: "Every event was refused; each is quarantined with its reason.",
                            statusCode: 400, extensions: new Dictionary<string, object?> { ["quarantined"] = result.Quarantined, ["refused"] = result.Refused.Take(100) });
                    }

                    return Results.Ok(result with { Refused = [.. result.Refused.Take(100)] });
                }
                catch (StoreBusyException busy)
                {
                    // Nothing of the batch was stored: the client sends it again later (the ids make a retry safe).
                    var seconds = options.Value.RetryAfterSeconds;
                    http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                    return Results.Problem(title: "Busy, try again", detail: $"{busy.Message} Nothing of this batch was stored; send it again in {seconds} s.",
                        statusCode: StatusCodes.Status503ServiceUnavailable, extensions: new Dictionary<string, object?> { ["retryAfter"] = seconds });
                }
            })
            .AllowAnonymous() // players and apps of viewers who are not signed in report too; server-only types are refused
            .DisableAntiforgery()
            .WithName("PostAnalyticsEvents")
            .WithSummary("Player and app events: a JSON array or NDJSON, gzip Content-Encoding accepted, at most 10,000 a request. Bad events are quarantined with their reason, duplicate ids counted once, events more than 7 days old refused.");

        var console = root.MapGroup("").RequireAuthorization(Policies.Console);
        console.MapGet("/metrics", (HttpContext http, MetricsService metrics, CancellationToken ct) => MetricsAsync(http, metrics, ct))
            .WithName("GetAnalyticsMetrics")
            .WithSummary("Metrics of the catalogue K1-K12: ?from=yyyy-MM-dd&to=&metric=K1.completion_rate,K6.time_to_start&grain=day|week|month&by=title|genre|device|country|plan|channel&format=csv");
        root.MapGet("/kpi", (HttpContext http, MetricsService metrics, CancellationToken ct) => MetricsAsync(http, metrics, ct))
            .RequireAuthorization(Policies.Metrics)
            .WithName("GetAnalyticsKpi")
            .WithSummary("The same as /metrics, for `marquee kpi` on this machine (operators, or the local machine like the metrics scrape).");
        console.MapGet("/funnel", async (HttpContext http, Warehouse warehouse, CancellationToken ct) =>
                Range(http) is { } r ? Results.Ok(await Journeys.FunnelAsync(warehouse, r.From, r.To, ct)) : Results.Problem(title: "Bad date", detail: "from and to: yyyy-MM-dd", statusCode: 400))
            .WithName("GetAnalyticsFunnel")
            .WithSummary("Users in the range who visited, signed up, watched (a first frame) and paid.");
        console.MapGet("/cohorts", async (HttpContext http, Warehouse warehouse, CancellationToken ct) =>
                Range(http) is { } r ? Results.Ok(await Journeys.CohortsAsync(warehouse, r.From, r.To, ct)) : Results.Problem(title: "Bad date", detail: "from and to: yyyy-MM-dd", statusCode: 400))
            .WithName("GetAnalyticsCohorts")
            .WithSummary("Weekly sign-up cohorts of the range: size and the share active in each of the 8 following weeks.");
        console.MapGet("/titles/{id:guid}/performance", async (Guid id, HttpContext http, Warehouse warehouse, CancellationToken ct) =>
                Range(http) is { } r ? Results.Ok(await ContentPerformance.ForTitleAsync(warehouse, id, r.From, r.To, ct)) : Results.Problem(title: "Bad date", detail: "from and to: yyyy-MM-dd", statusCode: 400))
            .WithName("GetTitlePerformance")
            .WithSummary("A title's started sessions in the range: completion rate, completion deciles, drop-off curve (share still watching at each tenth), rewatch; the same over its genre.");
        console.MapGet("/catalogue", () => Results.Ok(MetricCatalogue.All.Select(m => new
            {
                m.Id, m.Family, m.Name, m.Formula, m.Unit, m.Sources, m.Owner, m.Dimensions, available = m.Sql is not null, note = m.NoDataReason,
            })))
            .WithName("GetAnalyticsCatalogue")
            .WithSummary("The metric catalogue: id, family, formula, unit, source events, owner, dimensions; whether its source exists yet.");
        root.MapGet("/status", async (AnalyticsDb db, Pipeline pipeline, CancellationToken ct) =>
            {
                // Events land in the spool (and, before it existed, in the raw table, still drained first): lastSeq counts
                // every event landed, watermark those taken into the warehouse; both only grow.
                var legacyRaw = await db.RawEvents.LongCountAsync(ct);
                var legacyLast = legacyRaw == 0 ? 0 : await db.RawEvents.MaxAsync(r => r.Seq, ct);
                var quarantined = await db.Quarantine.LongCountAsync(ct);
                var legacyDuplicates = await db.Counters.Where(c => c.Name == "duplicates").SumAsync(c => c.Value, ct);
                var s = await pipeline.StatusAsync(ct);
                var watermark = s.RawWatermark + s.Loaded;
                var last = legacyLast + s.Loaded + s.Pending;
                return Results.Ok(new
                {
                    raw = legacyRaw + s.Loaded + s.Pending, lastSeq = last, watermark, pending = last - watermark, quarantined,
                    duplicates = legacyDuplicates + s.Duplicates, warehouse = s.WarehouseEvents,
                });
            })
            .RequireAuthorization(Policies.Metrics) // also for the benchmark and scripts on this machine, like the metrics scrape
            .WithName("GetAnalyticsStatus")
            .WithSummary("Events landed (raw), the pipeline's watermark and what is pending, quarantined and duplicate counts, events in the warehouse (operators, or this machine).");
        console.MapGet("/quarantine", async (AnalyticsDb db, CancellationToken ct) =>
                Results.Ok(await db.Quarantine.AsNoTracking().OrderByDescending(q => q.ReceivedAt).Take(200)
                    .Select(q => new { q.EventId, q.Reason, q.ReceivedAt, q.Payload }).ToListAsync(ct)))
            .WithName("GetAnalyticsQuarantine")
            .WithSummary("The latest 200 refused events with their reason.");
        console.MapPost("/rebuild", async ([FromQuery] string day, Pipeline pipeline, CancellationToken ct) =>
                DateOnly.TryParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
                    ? await RebuildAsync(pipeline, day, ct)
                    : Results.Problem(title: "Bad day", detail: "day=yyyy-MM-dd", statusCode: 400))
            .RequireAuthorization(Policies.ConsoleAdmin)
            .DisableAntiforgery()
            .WithName("RebuildAnalyticsDay")
            .WithSummary("Recomputes one day's sessions, active users and roll-ups from the warehouse's events (idempotent).");
        console.MapPost("/simulate", async ([FromBody] SimulationInput input, Simulator simulator, CancellationToken ct) =>
                input.Viewers is < 1 or > 100_000 || input.Days is < 1 or > 365
                    ? Results.Problem(title: "Bad simulation", detail: "viewers 1-100000, days 1-365", statusCode: 400)
                    : Results.Ok(await simulator.RunAsync(input.Viewers, input.Days, input.Seed ?? 1, ct)))
            .RequireAuthorization(Policies.ConsoleAdmin)
            .DisableAntiforgery()
            .WithName("SimulateAudience")
            .WithSummary("Drives a simulated audience through the real event path (sign-ups, plays with drop-off and stalls, subscriptions, churn) spread over the past days.");
        console.MapGet("/predictions", async (Predictions predictions, CancellationToken ct) => Results.Ok(await predictions.ReportsAsync(ct)))
            .WithName("GetAnalyticsPredictions")
            .WithSummary("The churn and conversion models: evaluation (AUC on a later held-out period), top drivers, highest-probability users.");
        console.MapPost("/predictions/train", async ([FromQuery] string? kind, HttpContext http, Predictions predictions, IAuditLog audit, CancellationToken ct) =>
            {
                var kinds = string.IsNullOrEmpty(kind) ? Predictions.Kinds : Predictions.Kinds.Contains(kind, StringComparer.Ordinal) ? [kind] : null;
                if (kinds is null)
                {
                    return Results.Problem(title: "Bad kind", detail: "kind=churn or conversion (or none for both)", statusCode: 400);
                }

                var reports = new List<PredictionReport>();
                foreach (var k in kinds)
                {
                    reports.Add(await predictions.TrainAsync(k, null, ct));
                }

                var actor = RequestActor.Of(http);
                await audit.RecordAsync(new AuditRecord(actor.Name, "analytics.model-trained", $"model:{string.Join(",", kinds)}", actor.From,
                    string.Join("; ", reports.Select(r => $"{r.Kind}: {r.Status}, AUC {r.Auc?.ToString(CultureInfo.InvariantCulture) ?? "none"}"))), ct);
                return Results.Ok(reports);
            })
            .RequireAuthorization(Policies.ConsoleAdmin)
            .DisableAntiforgery()
            .WithName("TrainAnalyticsPredictions")
            .WithSummary("Trains the churn and/or conversion model on the warehouse now (trained on one period, evaluated on the next), saves it in the data dir; audited.");
        console.MapGet("/preferences", async (HttpContext http, AnalyticsDb db, CancellationToken ct) =>
                Results.Content((await db.Preferences.FindAsync([OperatorOf(http)], ct))?.Json ?? "{}", "application/json"))
            .WithName("GetAnalyticsPreferences")
            .WithSummary("The operator's saved dashboard (metrics, filters, date range).");
        console.MapPut("/preferences", async (HttpContext http, AnalyticsDb db, TimeProvider time, CancellationToken ct) =>
            {
                using var reader = new StreamReader(http.Request.Body);
                var json = await reader.ReadToEndAsync(ct);
                if (json.Length > 8000 || System.Text.Json.Nodes.JsonNode.Parse(json) is not System.Text.Json.Nodes.JsonObject)
                {
                    return Results.Problem(title: "Bad preferences", detail: "A JSON object of at most 8,000 characters.", statusCode: 400);
                }

                var id = OperatorOf(http);
                var pref = await db.Preferences.FindAsync([id], ct);
                if (pref is null)
                {
                    db.Preferences.Add(new DashboardPreference { OperatorId = id, Json = json, UpdatedAt = time.GetUtcNow() });
                }
                else
                {
                    pref.Json = json;
                    pref.UpdatedAt = time.GetUtcNow();
                }

                await db.SaveChangesAsync(ct);
                return Results.NoContent();
            })
            .WithName("PutAnalyticsPreferences")
            .WithSummary("Saves the operator's dashboard choices.");
        endpoints.MapHub<LiveHub>("/live").RequireAuthorization(Policies.Console);
        return root;
    }

    private static async Task<IResult> RebuildAsync(Pipeline pipeline, string day, CancellationToken ct)
    {
        await pipeline.RebuildDaysAsync([day], ct);
        return Results.Ok(new { rebuilt = day });
    }

    private static Guid OperatorOf(HttpContext http) => Guid.Parse(http.User.FindFirstValue(ClaimTypes.NameIdentifier)!);

    private static async Task<IResult> MetricsAsync(HttpContext http, MetricsService metrics, CancellationToken ct)
    {
        var q = http.Request.Query;
        var today = DateOnly.FromDateTime(http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime);
        if (!TryDay(q["from"], today.AddDays(-29), out var from) || !TryDay(q["to"], today, out var to))
        {
            return Results.Problem(title: "Bad date", detail: "from and to: yyyy-MM-dd", statusCode: 400);
        }

        var grain = q["grain"].ToString() is { Length: > 0 } g ? g : "day";
        var by = q["by"].ToString() is { Length: > 0 } b ? b : "all";
        var ids = q["metric"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (MetricsService.Check(from, to, grain, by, ids) is { } problem)
        {
            return Results.Problem(title: "Bad metrics query", detail: problem, statusCode: 400);
        }

        var answer = await metrics.ComputeAsync(from, to, grain, by, ids, ct);
        return string.Equals(q["format"], "csv", StringComparison.OrdinalIgnoreCase)
            ? Results.Text(MetricCatalogue.ToCsv(answer), "text/csv")
            : Results.Ok(answer);
    }

    private static (DateOnly From, DateOnly To)? Range(HttpContext http)
    {
        var today = DateOnly.FromDateTime(http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime);
        return TryDay(http.Request.Query["from"], today.AddDays(-29), out var from) && TryDay(http.Request.Query["to"], today, out var to) && from <= to
            ? (from, to) : null;
    }

    private static bool TryDay(string? text, DateOnly fallback, out DateOnly day)
    {
        if (string.IsNullOrEmpty(text))
        {
            day = fallback;
            return true;
        }

        return DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out day);
    }
}

internal sealed record SimulationInput(int Viewers, int Days, int? Seed);
