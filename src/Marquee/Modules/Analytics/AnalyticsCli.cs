using System.Globalization;
using System.Net.Http.Json;
using DuckDB.NET.Data;
using Marquee.Platform;

namespace Marquee.Analytics;

/// <summary>The command-line side of the module: <c>marquee kpi</c> and <c>marquee simulate</c>.</summary>
public static partial class AnalyticsModule
{
    /// <summary>
    /// Prints metrics: asks the running server (<paramref name="url"/>, else the configured <c>urls</c>, else
    /// http://localhost:5080; its /api/analytics/kpi answers this machine) and, when none answers, opens the warehouse
    /// read-only. Returns an exit code (0, 1 failed, 2 bad question).
    /// </summary>
    public static async Task<int> KpiAsync(IConfiguration configuration, string? url, string? from, string? to, string? metric, string grain, string? by, bool csv,
        TextWriter output, TextWriter error, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var today = DateOnly.FromDateTime(TimeProvider.System.GetUtcNow().UtcDateTime);
        if (!TryDay(from, today.AddDays(-29), out var f) || !TryDay(to, today, out var t))
        {
            await error.WriteLineAsync("marquee: --from and --to are dates, yyyy-MM-dd.");
            return 2;
        }

        var ids = (metric ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        by ??= "all";
        if (MetricsService.Check(f, t, grain, by, ids) is { } problem)
        {
            await error.WriteLineAsync($"marquee: {problem}");
            return 2;
        }

        var server = new Uri((url ?? configuration["urls"]?.Split(';')[0] ?? "http://localhost:5080")
            .Replace("://0.0.0.0", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal)
            .Replace("://+", "://localhost", StringComparison.Ordinal));
        MetricsAnswer? answer = null;
        using (var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) })
        {
            try
            {
                var query = $"/api/analytics/kpi?from={f:yyyy-MM-dd}&to={t:yyyy-MM-dd}&grain={grain}&by={by}&metric={Uri.EscapeDataString(string.Join(',', ids))}";
                using var response = await http.GetAsync(query, ct);
                if (!response.IsSuccessStatusCode)
                {
                    await error.WriteLineAsync($"marquee: the server at {server} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
                    return 1;
                }

                answer = await response.Content.ReadFromJsonAsync<MetricsAnswer>(ct);
                await error.WriteLineAsync($"(from the server at {server})");
            }
            catch (HttpRequestException)
            {
                // no server there: read the warehouse ourselves
            }
        }

        if (answer is null)
        {
            var dataDir = (configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions()).FullDataDir;
            await using var warehouse = new Warehouse(Warehouse.PathIn(dataDir), readOnly: true);
            try
            {
                answer = await new MetricsService(warehouse, configuration.GetSection(AnalyticsOptions.Section).Get<AnalyticsOptions>()?.ExchangeRates).ComputeAsync(f, t, grain, by, ids, ct);
                await error.WriteLineAsync($"(from {warehouse.FilePath}, read-only)");
            }
            catch (FileNotFoundException ex)
            {
                await error.WriteLineAsync($"marquee: {ex.Message} No server answered at {server} either.");
                return 1;
            }
            catch (DuckDBException ex)
            {
                await error.WriteLineAsync($"marquee: cannot open the warehouse ({ex.Message.Split('\n')[0]}); a server holds it: pass --url of the running server.");
                return 1;
            }
        }

        if (csv)
        {
            await output.WriteAsync(MetricCatalogue.ToCsv(answer));
            return 0;
        }

        foreach (var m in answer.Metrics)
        {
            await output.WriteLineAsync(m.Points.Count == 0
                ? $"{m.Id,-30} {m.Name}: {m.Status}{(m.Note is null ? "" : $" ({m.Note})")}"
                : $"{m.Id,-30} {m.Name} [{m.Unit}]");
            foreach (var p in m.Points)
            {
                await output.WriteLineAsync($"  {p.Period}  {p.Dimension,-20} {p.Value?.ToString("0.####", CultureInfo.InvariantCulture)}");
            }
        }

        return 0;
    }

    /// <summary>Runs the simulated audience through the collector, then the pipeline when this process can open the warehouse.</summary>
    public static async Task<int> SimulateAsync(IServiceProvider services, int viewers, int days, int seed, TextWriter output, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(output);
        SimulationResult result;
        await using (var scope = services.CreateAsyncScope())
        {
            result = await scope.ServiceProvider.GetRequiredService<Simulator>().RunAsync(viewers, days, seed, ct);
        }

        await output.WriteLineAsync($"Simulated {result.Viewers} viewers over {result.Days} days: {result.Events} events, {result.Accepted} accepted, {result.Duplicates} duplicates, {result.Quarantined} quarantined.");
        try
        {
            var pipeline = services.GetRequiredService<Pipeline>();
            var taken = 0;
            for (int n; (n = await pipeline.RunOnceAsync(ct)) > 0;)
            {
                taken += n;
            }

            await output.WriteLineAsync($"Pipeline: {taken} raw events taken into the warehouse.");
        }
        catch (DuckDBException)
        {
            await output.WriteLineAsync("The warehouse is open in a running server: its pipeline takes the events in within seconds.");
        }

        return 0;
    }
}
