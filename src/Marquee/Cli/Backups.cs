using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Marquee.Platform;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Hosting;
using Marquee.Platform.Privacy;
using Microsoft.Data.Sqlite;

namespace Marquee.Cli;

/// <summary>
/// <c>marquee backup create</c> and <c>restore</c>: a copy of an installation's state, taken while no server uses the data
/// folder (the analytics warehouse, DuckDB, is held by one process at a time; the lock <see cref="DataFolderLock"/> tells),
/// with a manifest of SHA-256 checksums; a restore verifies them all before it changes anything, replaces what the backup
/// covers, and erases again every account the <see cref="ErasureRegister"/> names as erased since the backup, before any
/// server serves the restored data.
/// Layout: <c>manifest.json</c>, <c>database/marquee.db</c> (SQLite only: PostgreSQL is backed up with pg_dump), <c>data/…</c>.
/// </summary>
internal static class Backups
{
    public const string ManifestName = "manifest.json";
    public const int Format = 1;

    /// <summary>The negative control's switch: a restore that does not erase again (never in production).</summary>
    public const string ReapplySetting = "Marquee:Backup:ReapplyErasures";

    internal sealed record Manifest(int Format, DateTimeOffset CreatedAt, string Provider, bool Media, string DataDir, List<ManifestFile> Files);

    internal sealed record ManifestFile(string Path, long Bytes, string Sha256);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>
    /// Whether a file of the data folder (relative path, '/' separated) is state a backup holds. Not: the SQLite files (copied
    /// through SQLite's backup API), the lock, the erasure register (it must outlive restores), derived or passing data
    /// (the search index, the mail pickup folder, the pipeline's load file, a warehouse rewrite's leftovers), and media
    /// (sources, uploads, published renditions, the asset library) unless asked.
    /// </summary>
    internal static bool Covers(string relative, bool media)
    {
        var first = relative.Split('/')[0];
        if (first is "privacy" or "search" or "mail" || relative is "marquee.lock" or "analytics/load.ndjson"
            || relative.StartsWith("marquee.db", StringComparison.Ordinal) || relative.Contains(".rewrite", StringComparison.Ordinal))
        {
            return false;
        }

        return media || first is not ("media" or "uploads");
    }

    public static async Task<int> CreateAsync(IConfiguration configuration, string? to, bool media, TextWriter output, TextWriter error, CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        var settings = DatabaseSettings.From(configuration);
        var dataDir = DataDirOf(configuration);
        if (!Directory.Exists(dataDir))
        {
            await error.WriteLineAsync($"marquee: the data folder {dataDir} does not exist: nothing to back up.");
            return MarqueeCommandLine.BadConfiguration;
        }

        var target = Path.GetFullPath(to ?? Path.Combine(Directory.GetCurrentDirectory(), $"marquee-backup-{TimeProvider.System.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}"));
        if (Inside(target, dataDir))
        {
            await error.WriteLineAsync($"marquee: --to {target} is inside the data folder {dataDir}: choose a folder outside it.");
            return MarqueeCommandLine.BadConfiguration;
        }

        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
        {
            await error.WriteLineAsync($"marquee: {target} is not empty: back up into a new folder.");
            return MarqueeCommandLine.BadConfiguration;
        }

        using var held = DataFolderLock.TryExclusive(dataDir);
        if (held is null)
        {
            await error.WriteLineAsync($"marquee: a server is using the data folder {dataDir}: stop it, back up, start it again (the analytics warehouse can be copied only while no process holds it).");
            return MarqueeCommandLine.Unavailable;
        }

        var createdAt = TimeProvider.System.GetUtcNow();
        var files = new List<ManifestFile>();
        Directory.CreateDirectory(target);
        if (settings.Provider == DatabaseProvider.Sqlite)
        {
            var source = new SqliteConnectionStringBuilder(settings.ConnectionString).DataSource;
            var copy = Path.Combine(target, "database", "marquee.db");
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            if (File.Exists(source))
            {
                // SQLite's online backup: a consistent copy whatever is in the write-ahead log.
                await using var from = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = source, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
                await using var into = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Pooling = false }.ToString());
                await from.OpenAsync(ct);
                await into.OpenAsync(ct);
                from.BackupDatabase(into);
            }

            if (File.Exists(copy))
            {
                files.Add(await DescribeAsync(target, copy, ct));
            }
        }

        foreach (var file in Directory.EnumerateFiles(dataDir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(dataDir, file).Replace('\\', '/');
            if (!Covers(relative, media))
            {
                continue;
            }

            var copy = Path.Combine(target, "data", relative);
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
            files.Add(await DescribeAsync(target, copy, ct));
        }

        var manifest = new Manifest(Format, createdAt, settings.Provider.ToString(), media, dataDir, files);
        await File.WriteAllTextAsync(Path.Combine(target, ManifestName), JsonSerializer.Serialize(manifest, Json), ct);
        var bytes = files.Sum(f => f.Bytes);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Backed up {files.Count} file(s), {bytes / 1048576.0:0.0} MiB, to {target} in {started.Elapsed.TotalSeconds:0.0} s{(media ? " (media included)" : " (media not included: --include-media)")}."));
        if (settings.Provider == DatabaseProvider.Postgres)
        {
            await output.WriteLineAsync($"The database is on PostgreSQL ({settings.Describe()}): this backup holds the data folder only; back the database up with pg_dump at the same time (docs/operations.md, Backups).");
        }

        return MarqueeCommandLine.Ok;
    }

    public static async Task<int> RestoreAsync(IConfiguration configuration, string from, Func<Task<WebApplication>> host, TextWriter output, TextWriter error, CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        var settings = DatabaseSettings.From(configuration);
        var dataDir = DataDirOf(configuration);
        from = Path.GetFullPath(from);
        var manifestPath = Path.Combine(from, ManifestName);
        if (!File.Exists(manifestPath))
        {
            await error.WriteLineAsync($"marquee: {from} is not a Marquee backup (no {ManifestName}); nothing was restored.");
            return MarqueeCommandLine.BadConfiguration;
        }

        Manifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<Manifest>(await File.ReadAllTextAsync(manifestPath, ct), Json) ?? throw new JsonException("empty");
        }
        catch (JsonException ex)
        {
            await error.WriteLineAsync($"marquee: the manifest of {from} cannot be read ({ex.Message}); nothing was restored.");
            return MarqueeCommandLine.Failed;
        }

        if (manifest.Format != Format || !string.Equals(manifest.Provider, settings.Provider.ToString(), StringComparison.OrdinalIgnoreCase))
        {
            await error.WriteLineAsync($"marquee: the backup in {from} is of a {manifest.Provider} installation (format {manifest.Format}); this one is configured for {settings.Provider}: nothing was restored.");
            return MarqueeCommandLine.BadConfiguration;
        }

        // Every file checked before anything changes.
        foreach (var file in manifest.Files)
        {
            var path = Path.GetFullPath(Path.Combine(from, file.Path));
            if (!Inside(path, from) || !File.Exists(path))
            {
                await error.WriteLineAsync($"marquee: the backup in {from} is incomplete: {file.Path} is missing; nothing was restored.");
                return MarqueeCommandLine.Failed;
            }

            var sha = await Sha256Async(path, ct);
            if (!string.Equals(sha, file.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                await error.WriteLineAsync($"marquee: the backup in {from} is damaged: {file.Path} does not match its checksum in {ManifestName}; nothing was restored.");
                return MarqueeCommandLine.Failed;
            }
        }

        Directory.CreateDirectory(dataDir);
        using var held = DataFolderLock.TryExclusive(dataDir);
        if (held is null)
        {
            await error.WriteLineAsync($"marquee: a server is using the data folder {dataDir}: stop every server on it before restoring; nothing was restored.");
            return MarqueeCommandLine.Unavailable;
        }

        // What the backup covers goes (so nothing newer than the backup stays beside it), then the copies come back.
        foreach (var file in Directory.EnumerateFiles(dataDir, "*", SearchOption.AllDirectories).ToList())
        {
            var relative = Path.GetRelativePath(dataDir, file).Replace('\\', '/');
            if (Covers(relative, manifest.Media) || relative.StartsWith("search/", StringComparison.Ordinal) || relative.Contains(".rewrite", StringComparison.Ordinal)
                || relative == "analytics/load.ndjson")
            {
                File.Delete(file); // the search index is derived from the database: rebuilt at the next start
            }
        }

        if (settings.Provider == DatabaseProvider.Sqlite)
        {
            var database = new SqliteConnectionStringBuilder(settings.ConnectionString).DataSource;
            SqliteConnection.ClearAllPools();
            foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" })
            {
                if (File.Exists(database + suffix))
                {
                    File.Delete(database + suffix);
                }
            }

            var copy = Path.Combine(from, "database", "marquee.db");
            if (File.Exists(copy))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(database))!);
                File.Copy(copy, database);
            }
        }

        var restored = 0;
        foreach (var file in manifest.Files.Where(f => f.Path.StartsWith("data/", StringComparison.Ordinal)))
        {
            var into = Path.Combine(dataDir, file.Path["data/".Length..]);
            Directory.CreateDirectory(Path.GetDirectoryName(into)!);
            File.Copy(Path.Combine(from, file.Path), into, overwrite: true);
            restored++;
        }

        await output.WriteLineAsync($"Restored the backup of {manifest.CreatedAt:yyyy-MM-dd HH:mm:ss} UTC from {from}: the database{(settings.Provider == DatabaseProvider.Postgres ? " (PostgreSQL: restored by you with pg_restore)" : "")} and {restored} file(s) of the data folder{(manifest.Media ? " with media" : "")}.");

        // The erasures since the backup, through the same erasers as the first time, before any server serves the data.
        var registerPath = ErasureRegister.PathFrom(configuration, dataDir);
        var register = ErasureRegister.Read(registerPath);
        if (configuration.GetValue<bool?>(ReapplySetting) == false)
        {
            await error.WriteLineAsync($"marquee: {ReapplySetting} is false: the {register.Count} erasure(s) of {registerPath} were NOT applied again; erased people may be back.");
            return MarqueeCommandLine.Ok;
        }

        await using var app = await host();
        var again = 0;
        var present = 0;
        foreach (var (at, id) in register.GroupBy(e => e.AccountId).Select(g => (g.Max(e => e.At), g.Key)))
        {
            // After the backup; or before it but still in the restored database (a PostgreSQL dump taken earlier than this copy).
            if (at >= manifest.CreatedAt - TimeSpan.FromMinutes(1) || await Identity.IdentityModule.HasAccountAsync(app.Services, id, ct))
            {
                present += await Identity.IdentityModule.EraseAgainAsync(app.Services, id, at, ct) ? 1 : 0;
                again++;
            }
        }

        if (again > 0)
        {
            await DeliverErasuresAsync(app, ct);
        }

        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Erased again {again} account(s) of {register.Count} recorded in {registerPath} ({present} were in the restored database); every module has handled them. Done in {started.Elapsed.TotalSeconds:0.0} s: start the server."));
        return MarqueeCommandLine.Ok;
    }

    /// <summary>Delivers the outboxes (the erasures' events to every module's eraser) until no erasure waits, within two minutes.</summary>
    private static async Task DeliverErasuresAsync(WebApplication app, CancellationToken ct)
    {
        var dispatcher = app.Services.GetRequiredService<OutboxDispatcher>();
        var deadline = TimeProvider.System.GetUtcNow() + TimeSpan.FromMinutes(2);
        while (true)
        {
            var handled = await dispatcher.DispatchDueAsync(ct);
            var (waiting, failed) = await Identity.IdentityModule.UndeliveredErasuresAsync(app.Services, ct);
            if (waiting == 0)
            {
                return;
            }

            if (failed > 0 || TimeProvider.System.GetUtcNow() > deadline)
            {
                throw new StartupException($"{waiting} erasure(s) could not be handled by every module (see the event outbox, /console/events): do not start the server until they are.");
            }

            if (handled == 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), ct); // a retry's back-off
            }
        }
    }

    private static string DataDirOf(IConfiguration configuration) =>
        (configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions()).FullDataDir;

    private static bool Inside(string path, string folder)
    {
        var relative = Path.GetRelativePath(folder, path);
        return relative == "." || (!relative.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(relative));
    }

    private static async Task<ManifestFile> DescribeAsync(string root, string file, CancellationToken ct) =>
        new(Path.GetRelativePath(root, file).Replace('\\', '/'), new FileInfo(file).Length, await Sha256Async(file, ct));

    private static async Task<string> Sha256Async(string file, CancellationToken ct)
    {
        await using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
    }
}
