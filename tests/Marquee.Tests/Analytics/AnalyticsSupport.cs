using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Marquee.Tests.Support;

namespace Marquee.Tests.Analytics;

internal static class AnalyticsSupport
{
    public static string Day(DateOnly d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static DateOnly Today => DateOnly.FromDateTime(TimeProvider.System.GetUtcNow().UtcDateTime);

    public static string At(DateOnly day, int hour, int minute = 0, int second = 0) =>
        new DateTimeOffset(day.ToDateTime(new TimeOnly(hour, minute, second)), TimeSpan.Zero).ToString("O", CultureInfo.InvariantCulture);

    /// <summary>Waits until the pipeline has taken every raw event into the warehouse.</summary>
    public static async Task CaughtUpAsync(MarqueeApp app, long atLeastRaw = 1) =>
        await Poll.UntilAsync(
            async () => await app.Client.GetFromJsonAsync<JsonElement>("/api/analytics/status"),
            s => s.GetProperty("pending").GetInt64() == 0 && s.GetProperty("lastSeq").GetInt64() >= atLeastRaw && s.GetProperty("watermark").GetInt64() >= atLeastRaw,
            TimeSpan.FromSeconds(30), "the analytics pipeline to catch up");

    /// <summary>The points of one metric: (period, dimension) to value; the metric's status.</summary>
    public static async Task<(string Status, Dictionary<(string Period, string Dimension), double> Points)> MetricAsync(
        MarqueeApp app, string metric, DateOnly from, DateOnly to, string grain = "day", string? by = null)
    {
        var url = $"/api/analytics/metrics?metric={metric}&from={Day(from)}&to={Day(to)}&grain={grain}" + (by is null ? "" : $"&by={by}");
        var answer = await app.Client.GetFromJsonAsync<JsonElement>(url);
        var m = answer.GetProperty("metrics")[0];
        var points = m.GetProperty("points").EnumerateArray().ToDictionary(
            p => (p.GetProperty("period").GetString()!, p.GetProperty("dimension").GetString()!), p => p.GetProperty("value").GetDouble());
        return (m.GetProperty("status").GetString()!, points);
    }
}
