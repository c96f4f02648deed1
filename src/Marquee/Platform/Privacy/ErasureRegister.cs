using System.Globalization;
using Microsoft.Extensions.Options;

namespace Marquee.Platform.Privacy;

/// <summary>
/// R32: the erasure register, one line per erased account, <c>TIME ACCOUNT_ID</c> (ISO 8601 UTC, the random account id;
/// never the e-mail or a name), appended and flushed to disk before the erasure commits. It lives outside what a restore
/// overwrites (default <c>&lt;DataDir&gt;/privacy/erasures.log</c>, or <c>Marquee:Privacy:ErasureRegister</c>, e.g. on other
/// storage), so that <c>marquee backup restore</c> can erase again every account erased after the backup was taken.
/// A line written for an erasure that then failed names an account its holder (or an admin) asked to erase: a restore
/// erases it too.
/// </summary>
public sealed class ErasureRegister(IOptions<MarqueeOptions> options, IConfiguration configuration)
{
    public const string SettingKey = "Marquee:Privacy:ErasureRegister";

    private static readonly Lock Appending = new();

    public string FilePath => PathFrom(configuration, options.Value.FullDataDir);

    public static string PathFrom(IConfiguration configuration, string fullDataDir)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return configuration[SettingKey] is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Path.Combine(fullDataDir, "privacy", "erasures.log");
    }

    /// <summary>Appends one line and flushes it to disk (one write: lines of several processes do not interleave).</summary>
    public void Record(Guid accountId, DateTimeOffset at)
    {
        var path = FilePath;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var line = System.Text.Encoding.UTF8.GetBytes(
            $"{at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture)} {accountId:D}\n");
        lock (Appending)
        {
            using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            stream.Write(line);
            stream.Flush(flushToDisk: true);
        }
    }

    /// <summary>The register's entries (none when there is no file); malformed lines (a torn last line) are skipped.</summary>
    public static IReadOnlyList<(DateTimeOffset At, Guid AccountId)> Read(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        var entries = new List<(DateTimeOffset, Guid)>();
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2
                && DateTimeOffset.TryParse(parts[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                && Guid.TryParse(parts[1], out var id))
            {
                entries.Add((at, id));
            }
        }

        return entries;
    }
}
