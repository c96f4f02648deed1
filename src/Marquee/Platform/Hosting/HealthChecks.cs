using System.Text.Json;
using Marquee.Platform.Data;
using Marquee.Platform.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Marquee.Platform.Hosting;

/// <summary>Ready when every module's database answers and its migrations are applied.</summary>
internal sealed class DatabaseHealthCheck(IServiceProvider services, IEnumerable<ModuleDatabase> modules) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var pending = new List<string>();
        foreach (var module in modules)
        {
            await using var scope = services.CreateAsyncScope();
            var db = (DbContext)scope.ServiceProvider.GetRequiredService(module.ContextType);
            if (!await db.Database.CanConnectAsync(cancellationToken))
            {
                return HealthCheckResult.Unhealthy($"{module.Schema}: database unreachable");
            }

            if ((await db.Database.GetPendingMigrationsAsync(cancellationToken)).Any())
            {
                pending.Add(module.Schema);
            }
        }

        return pending.Count == 0
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy($"migrations pending for {string.Join(", ", pending)}: run 'marquee db migrate'");
    }
}

/// <summary>
/// The data folder: writable, and with room on its disk. A full disk (or less free than <c>MinFreeDiskMb</c>) is
/// <c>Degraded</c>, not <c>Unhealthy</c>: reads and playback still work while writes answer 503 (R4).
/// </summary>
internal sealed class DataDirHealthCheck(IOptions<MarqueeOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        FolderProbe.CheckAsync(options.Value.FullDataDir, "data folder", options.Value.MinFreeDiskMb, "Marquee:MinFreeDiskMb",
            "writes answer 503 until space is freed", cancellationToken);
}

/// <summary>
/// A folder's health as a writer sees it: a probe file written and deleted (a full disk is <c>Degraded</c>, a folder
/// that cannot be written <c>Unhealthy</c>), then the free space of its file system (statvfs) against a minimum. Used
/// for the data folder and, by the Media module, for the media store (which may be a volume of its own).
/// </summary>
internal static class FolderProbe
{
    public static async Task<HealthCheckResult> CheckAsync(string dir, string what, int minFreeMb, string setting, string whenFull, CancellationToken ct)
    {
        try
        {
            Directory.CreateDirectory(dir);
            var probe = Path.Combine(dir, $".health-{Environment.ProcessId}");
            await File.WriteAllTextAsync(probe, "ok", ct);
            File.Delete(probe);
        }
        catch (IOException ex) when (StorageFaults.Classify(ex) == StorageFault.Full)
        {
            return HealthCheckResult.Degraded($"{what}'s disk is full: {whenFull}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return HealthCheckResult.Unhealthy($"{what} not writable");
        }

        var free = FreeBytes(dir);
        var minimum = (long)minFreeMb * 1024 * 1024;
        return free is { } bytes && bytes < minimum
            ? HealthCheckResult.Degraded($"{what}'s disk has {bytes / (1024 * 1024)} MiB free, under {setting} ({minFreeMb})")
            : HealthCheckResult.Healthy();
    }

    private static long? FreeBytes(string dir)
    {
        try
        {
            return new DriveInfo(dir).AvailableFreeSpace; // statvfs of the folder's file system on Linux
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }
}

internal static class HealthResponse
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
    }
}
