using Marquee.Analytics;

namespace Marquee.Tests.Analytics;

/// <summary>Revenue never sums different currencies: per currency without rates, converted with configured rates (no host: a warehouse file).</summary>
[Trait("Category", "ProviderFree")] // nothing here depends on the database provider: the SQLite pass only
public sealed class CurrencyTests : IAsyncLifetime
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "marquee-tests", "wh-" + Guid.NewGuid().ToString("N"));
    private Warehouse warehouse = null!;
    private static readonly DateOnly Day = new(2026, 11, 2);

    public async Task InitializeAsync()
    {
        warehouse = new Warehouse(Path.Combine(folder, "warehouse.duckdb"), readOnly: false);
        await warehouse.UseAsync(async c =>
        {
            // u1 pays 10.00 EUR, u2 5.00 USD and 2.00 GBP, u3 is refunded 1.00 EUR; u1, u2, u3 active.
            await Warehouse.ExecuteAsync(c, """
                INSERT INTO events (event_id, type, ts, day, user_id, amount, currency, code) VALUES
                  ('p1', 'payment', TIMESTAMP '2026-11-02 08:00:00', DATE '2026-11-02', 'u1', 1000, 'EUR', 'subscription'),
                  ('p2', 'payment', TIMESTAMP '2026-11-02 09:00:00', DATE '2026-11-02', 'u2', 500, 'USD', 'subscription'),
                  ('p3', 'payment', TIMESTAMP '2026-11-02 10:00:00', DATE '2026-11-02', 'u2', 200, 'GBP', 'rental'),
                  ('p4', 'payment', TIMESTAMP '2026-11-02 11:00:00', DATE '2026-11-02', 'u3', 100, 'EUR', 'refund');
                INSERT INTO user_days (day, user_id, device, country, plan) VALUES (DATE '2026-11-02', 'u1', 'web', 'FR', 'free'), (DATE '2026-11-02', 'u2', 'web', 'US', 'free'),
                  (DATE '2026-11-02', 'u3', 'web', 'FR', 'free'), (DATE '2026-11-02', 'u4', 'web', 'FR', 'free');
                """, CancellationToken.None);
            return 0;
        }, CancellationToken.None);
    }

    private async Task<Dictionary<string, double>> PointsAsync(string metric, ExchangeRateOptions? rates)
    {
        var answer = await new MetricsService(warehouse, rates).ComputeAsync(Day, Day, "day", "all", [metric], CancellationToken.None);
        return answer.Metrics[0].Points.ToDictionary(p => p.Dimension, p => p.Value!.Value);
    }

    [Fact]
    public async Task Without_rates_revenue_is_per_currency_and_with_rates_it_is_converted_and_a_currency_without_a_rate_stays_apart()
    {
        var perCurrency = await PointsAsync("K4.revenue", null);
        Assert.Equal(new Dictionary<string, double> { ["EUR"] = 9.0, ["GBP"] = 2.0, ["USD"] = 5.0 }, perCurrency);
        Assert.Equal(9.0 / 4, (await PointsAsync("K4.arpu", null))["EUR"], 6); // 4 active users

        var rates = new ExchangeRateOptions { Currency = "EUR", Rates = new(StringComparer.OrdinalIgnoreCase) { ["usd"] = 0.9m } };
        var converted = await PointsAsync("K4.revenue", rates);
        Assert.Equal(9.0 + 5 * 0.9, converted["all"], 6);
        Assert.Equal(2.0, converted["GBP (no rate)"], 6);
        Assert.Equal(2, converted.Count);
        Assert.Contains("never summed across currencies", MetricCatalogue.Find("K4.revenue")!.Formula, StringComparison.Ordinal);
    }

    public async Task DisposeAsync()
    {
        await warehouse.DisposeAsync();
        Directory.Delete(folder, recursive: true);
    }
}
