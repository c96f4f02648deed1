using System.Globalization;
using System.Text;
using Marquee.Platform;

namespace Marquee.Compliance;

/// <summary>
/// The audit chain's heads outside the database (R24): after every committed append, a line
/// <c>&lt;unix ms&gt; &lt;sequence&gt; &lt;hash&gt;</c> is appended (and flushed to disk) to
/// <c>&lt;DataDir&gt;/compliance/audit-heads.log</c>. Whoever rewrites the audit table and its head row consistently (or
/// cuts the newest lines and moves the head back) cannot make the chain hold these heads again without the file:
/// <see cref="AuditChainHash.VerifyAsync"/> checks that the chain holds every recorded head. With several servers on one
/// PostgreSQL database each server records the heads of its own appends; each file is checked against the one chain.
/// Keep the file where the database's administrators cannot write (another disk, a WORM or log-shipping target).
/// </summary>
internal static class AuditHeadFile
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public static string PathIn(MarqueeOptions options) => Path.Combine(options.FullDataDir, "compliance", "audit-heads.log");

    public static async Task AppendAsync(string path, long sequence, string hash, DateTimeOffset at)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var line = $"{at.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)} {sequence.ToString(CultureInfo.InvariantCulture)} {hash}\n";
        await Gate.WaitAsync(CancellationToken.None);
        try
        {
            await using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            await file.WriteAsync(Encoding.ASCII.GetBytes(line), CancellationToken.None);
            file.Flush(flushToDisk: true);
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>The recorded heads (the newest per sequence), and the numbers of lines that could not be read.</summary>
    public static async Task<(SortedDictionary<long, string> Heads, List<int> Unreadable)> ReadAsync(string path, CancellationToken cancellationToken)
    {
        var heads = new SortedDictionary<long, string>();
        var unreadable = new List<int>();
        if (!File.Exists(path))
        {
            return (heads, unreadable);
        }

        var number = 0;
        foreach (var line in await File.ReadAllLinesAsync(path, cancellationToken))
        {
            number++;
            var parts = line.Split(' ');
            if (parts.Length == 3 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out _)
                && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
                && parts[2].Length == 64 && parts[2].All(char.IsAsciiHexDigitLower))
            {
                heads[sequence] = parts[2];
            }
            else if (line.Length > 0)
            {
                unreadable.Add(number);
            }
        }

        return (heads, unreadable);
    }
}
