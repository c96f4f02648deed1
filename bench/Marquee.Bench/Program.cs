// The analytics benchmark (docs/benchmarks.md). It starts nothing: it targets a running `marquee serve` (ingest,
// catalogue) or, with the server stopped, opens its warehouse read-only (duckdb).
//   dotnet run -c Release --project bench/Marquee.Bench -- ingest --url http://localhost:5080 --events 200000
//   dotnet run -c Release --project bench/Marquee.Bench -- catalogue --url http://localhost:5080 --from 2026-11-19 --to 2026-11-26
//   dotnet run -c Release --project bench/Marquee.Bench -- duckdb --data-dir ./data --from 2026-11-19 --to 2026-11-26
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Marquee.Analytics;

var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 1; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}

string Opt(string name, string fallback) => options.TryGetValue(name, out var v) ? v : fallback;
var today = DateOnly.FromDateTime(TimeProvider.System.GetUtcNow().UtcDateTime);
var from = DateOnly.Parse(Opt("from", today.AddDays(-6).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
var to = DateOnly.Parse(Opt("to", today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
string[] headlines = ["K1.completion_rate", "K2.dau", "K3.watch_time_per_session", "K4.revenue", "K6.time_to_start", "K7.crash_rate", "K11.conversion_by_channel", "K12.error_rate"];

switch (args.FirstOrDefault())
{
    case "ingest":
        await IngestAsync(new Uri(Opt("url", "http://localhost:5080")), int.Parse(Opt("events", "100000"), CultureInfo.InvariantCulture),
            int.Parse(Opt("connections", "8"), CultureInfo.InvariantCulture), int.Parse(Opt("batch", "1000"), CultureInfo.InvariantCulture),
            Opt("wait", "yes") != "no");
        break;
    case "catalogue":
        using (var http = new HttpClient { BaseAddress = new Uri(Opt("url", "http://localhost:5080")), Timeout = TimeSpan.FromMinutes(10) })
        {
            await TimeAsync("server, whole catalogue", async () => (await http.GetStringAsync(KpiUrl([]))).Length);
            foreach (var m in headlines)
            {
                await TimeAsync("server, " + m, async () => (await http.GetStringAsync(KpiUrl([m]))).Length);
            }
        }

        break;
    case "duckdb":
        await using (var warehouse = new Warehouse(Warehouse.PathIn(Path.GetFullPath(Opt("data-dir", "./data"))), readOnly: true))
        {
            var metrics = new MetricsService(warehouse);
            await TimeAsync("duckdb, whole catalogue", async () => (await metrics.ComputeAsync(from, to, "day", "all", [], CancellationToken.None)).Metrics.Count);
            foreach (var m in headlines)
            {
                await TimeAsync("duckdb, " + m, async () => (await metrics.ComputeAsync(from, to, "day", "all", [m], CancellationToken.None)).Metrics.Count);
            }
        }

        break;
    default:
        Console.Error.WriteLine("marquee-bench ingest|catalogue|duckdb [--url U] [--events N] [--connections 8] [--batch 1000] [--wait yes|no] [--data-dir D] [--from --to]");
        return 2;
}

return 0;

string KpiUrl(string[] ids) => string.Create(CultureInfo.InvariantCulture, $"/api/analytics/kpi?grain=day&from={from:yyyy-MM-dd}&to={to:yyyy-MM-dd}") + (ids.Length == 0 ? "" : "&metric=" + string.Join(",", ids));

static async Task TimeAsync(string what, Func<Task<int>> work)
{
    await work(); // warm up (connection, plan caches)
    var runs = new List<double>();
    for (var i = 0; i < 3; i++)
    {
        var sw = Stopwatch.StartNew();
        await work();
        runs.Add(sw.Elapsed.TotalMilliseconds);
    }

    runs.Sort();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what,-45} median {runs[1],9:F1} ms (min {runs[0]:F1}, max {runs[2]:F1})"));
}

static async Task IngestAsync(Uri url, int total, int connections, int batchSize, bool wait)
{
    // Pre-generate the gzip NDJSON batches: sessions of 10 events (request, first frame, 7 heartbeats, end) of 5,000
    // users over the past 6 days (inside the 7-day window), ids unique to this run.
    var run = Guid.NewGuid().ToString("N")[..8];
    var now = TimeProvider.System.GetUtcNow();
    var random = new Random(1);
    var titles = Enumerable.Range(1, 50).Select(i => new Guid(i, 0, 0, new byte[8])).ToArray();
    var batches = new List<byte[]>();
    var sb = new StringBuilder();
    var n = 0;
    var sw = Stopwatch.StartNew();
    while (n < total)
    {
        var session = $"{run}-s{n}";
        var user = $"bench-{random.Next(5000)}";
        var title = titles[random.Next(titles.Length)];
        var at = now.AddSeconds(-random.Next(6 * 86400));
        for (var k = 0; k < 10 && n < total; k++, n++)
        {
            var e = new Dictionary<string, object>
            {
                ["id"] = $"{run}-{n}", ["user"] = user, ["session"] = session, ["title"] = title, ["device"] = "web", ["country"] = "FR",
                ["time"] = at.AddSeconds(k * 60).ToString("O", CultureInfo.InvariantCulture),
            };
            switch (k)
            {
                case 0: e["type"] = "play_request"; break;
                case 1: e["type"] = "first_frame"; e["ms"] = 500 + random.Next(1500); break;
                case 9: e["type"] = "end"; e["position"] = 480; e["duration"] = 2400; break;
                default: e["type"] = "heartbeat"; e["position"] = 60 * (k - 1); e["bitrate"] = 3000; e["duration"] = 2400; break;
            }

            sb.Append(JsonSerializer.Serialize(e)).Append('\n');
            if ((n + 1) % batchSize == 0 || n + 1 == total)
            {
                using var ms = new MemoryStream();
                using (var gz = new GZipStream(ms, CompressionLevel.Fastest))
                {
                    gz.Write(Encoding.UTF8.GetBytes(sb.ToString()));
                }

                batches.Add(ms.ToArray());
                sb.Clear();
            }
        }
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"generated {total:N0} events in {batches.Count:N0} gzip NDJSON batches ({batches.Sum(b => b.Length) / 1024.0 / 1024:F1} MiB) in {sw.Elapsed.TotalSeconds:F1} s"));

    using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections };
    using var http = new HttpClient(handler) { BaseAddress = url, Timeout = TimeSpan.FromMinutes(5) };
    var before = await http.GetFromJsonAsync<JsonElement>("/api/analytics/status");
    var baseRaw = before.GetProperty("raw").GetInt64();
    var baseWarehouse = before.TryGetProperty("warehouse", out var w0) ? w0.GetInt64() : -1;
    var next = -1;
    long accepted = 0, failed = 0;
    sw.Restart();
    var workers = Enumerable.Range(0, connections).Select(async _ =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < batches.Count)
        {
            using var content = new ByteArrayContent(batches[i]);
            content.Headers.ContentType = new("application/x-ndjson");
            content.Headers.ContentEncoding.Add("gzip");
            using var response = await http.PostAsync("/api/analytics/events", content);
            if (!response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref failed);
                continue;
            }

            var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
            Interlocked.Add(ref accepted, answer.GetProperty("accepted").GetInt32());
        }
    }).ToList();
    await Task.WhenAll(workers);
    var posted = sw.Elapsed;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"posted on {connections} connections in {posted.TotalSeconds:F1} s: {accepted:N0} accepted, {failed} failed batches, {accepted / posted.TotalSeconds:N0} events/s acknowledged (durable)"));

    if (!wait)
    {
        return; // --wait no: a server without the worker role (the spool side measured alone)
    }

    // End to end: until the pipeline's watermark has passed every stored event (queryable in the warehouse).
    while (true)
    {
        var s = await http.GetFromJsonAsync<JsonElement>("/api/analytics/status");
        if (s.GetProperty("raw").GetInt64() >= baseRaw + accepted && s.GetProperty("pending").GetInt64() == 0)
        {
            break;
        }

        await Task.Delay(250);
    }

    var end = sw.Elapsed;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"queryable in the warehouse after {end.TotalSeconds:F1} s: {accepted / end.TotalSeconds:N0} events/s end to end; lost: {total - accepted:N0}"));
    if (baseWarehouse >= 0)
    {
        // Every acknowledged event is a row of the warehouse's events table (ids are unique to the run: no duplicate removed).
        var inWarehouse = (await http.GetFromJsonAsync<JsonElement>("/api/analytics/status")).GetProperty("warehouse").GetInt64() - baseWarehouse;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warehouse events table grew by {inWarehouse:N0} (accepted {accepted:N0}): {(inWarehouse == accepted ? "nothing lost" : "MISMATCH")}"));
    }
}
