using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Marquee.Compliance.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Compliance;

/// <summary>
/// The audit log's hash chain (R24). Each line gets the next <see cref="AuditEntry.Sequence"/>, a
/// <see cref="AuditEntry.ContentDigest"/> (SHA-256 of its canonical content: time to the millisecond, actor, action,
/// target, address, details, source message) and <see cref="AuditEntry.Hash"/> = SHA-256(previous hash || sequence ||
/// content digest); the newest link is kept in <see cref="AuditChainHead"/>. A redaction (erasure) rewrites a line's
/// text but not its digest, so the chain stays valid; the redacted line must then be named by a later, chained
/// <c>compliance.subject-erased</c> line, and its content is no longer compared with its digest.
/// </summary>
internal static class AuditChainHash
{
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>How an erasure line names the lines it redacted: <c>#id</c>.</summary>
    public const string RedactedPrefix = "redacted: ";

    public static void Append(AuditChainHead head, AuditEntry entry)
    {
        // The stored time is the digested time: whole milliseconds, UTC (both providers keep that exactly).
        entry.At = DateTimeOffset.FromUnixTimeMilliseconds(entry.At.ToUnixTimeMilliseconds());
        entry.Sequence = head.Sequence + 1;
        entry.ContentDigest = Digest(entry);
        entry.Hash = Link(head.Hash, entry.Sequence.Value, entry.ContentDigest);
        head.Sequence = entry.Sequence.Value;
        head.Hash = entry.Hash;
    }

    public static string Digest(AuditEntry e)
    {
        var canonical = JsonSerializer.Serialize(new object?[]
        {
            e.At.ToUnixTimeMilliseconds(), e.Actor, e.Action, e.Target, e.From, e.Details, e.SourceMessageId?.ToString("D"),
        });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    public static string Link(string previous, long sequence, string digest) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes($"{previous}\n{sequence}\n{digest}")));

    /// <summary>
    /// Walks the chain in sequence order. The first problem found (the first bad line: edited, inserted, missing,
    /// reordered, redacted without an erasure naming it) or null; with the number of chained and unchained lines and the head.
    /// </summary>
    public static async Task<AuditVerification> VerifyAsync(ComplianceDb db, CancellationToken cancellationToken, string? headFile = null)
    {
        var result = await VerifyChainAsync(db, cancellationToken);
        if (result.Problem is not null || headFile is null)
        {
            return result;
        }

        // The heads recorded outside the database: the chain must hold each of them (R24).
        var (recorded, unreadable) = await AuditHeadFile.ReadAsync(headFile, cancellationToken);
        if (unreadable.Count > 0)
        {
            return result with { Problem = $"the head file {headFile} has unreadable lines ({string.Join(", ", unreadable.Take(5))}): it was edited" };
        }

        var hashes = await db.AuditEntries.AsNoTracking().Where(a => a.Sequence != null && recorded.Keys.Contains(a.Sequence.Value))
            .Select(a => new { Sequence = a.Sequence!.Value, a.Hash }).ToDictionaryAsync(a => a.Sequence, a => a.Hash, cancellationToken);
        foreach (var (sequence, hash) in recorded.Reverse())
        {
            if (!hashes.TryGetValue(sequence, out var held) || !string.Equals(held, hash, StringComparison.Ordinal))
            {
                return result with
                {
                    Problem = $"the head file {headFile} records sequence {sequence} with hash {hash[..12]}…, which the chain {(held is null ? "does not reach" : $"holds as {held[..12]}…")}: " +
                              "the log was rewritten or its newest lines cut with the head moved back",
                };
            }
        }

        return result with { Anchors = recorded.Count };
    }

    private static async Task<AuditVerification> VerifyChainAsync(ComplianceDb db, CancellationToken cancellationToken)
    {
        var head = await db.AuditChain.AsNoTracking().SingleAsync(h => h.Id == 1, cancellationToken);
        var unchained = await db.AuditEntries.CountAsync(a => a.Sequence == null, cancellationToken);
        var redactedByErasure = new HashSet<long>();
        foreach (var details in await db.AuditEntries.AsNoTracking()
                     .Where(a => a.Action == "compliance.subject-erased" && a.Sequence != null && a.Details != null)
                     .Select(a => a.Details!).ToListAsync(cancellationToken))
        {
            var at = details.IndexOf(RedactedPrefix, StringComparison.Ordinal);
            foreach (var id in at < 0 ? [] : details[(at + RedactedPrefix.Length)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (long.TryParse(id.TrimStart('#'), System.Globalization.CultureInfo.InvariantCulture, out var n))
                {
                    redactedByErasure.Add(n);
                }
            }
        }

        var previous = Genesis;
        long expected = 1;
        var checkedLines = 0L;
        await foreach (var e in db.AuditEntries.AsNoTracking().Where(a => a.Sequence != null).OrderBy(a => a.Sequence).AsAsyncEnumerable().WithCancellation(cancellationToken))
        {
            var where = $"line {e.Id} (sequence {e.Sequence})";
            if (e.Sequence != expected)
            {
                return new(checkedLines, unchained, head, $"{where}: sequence {expected} is missing before it (a line was deleted or renumbered)", e.Id);
            }

            if (e.RedactedAt is null && !string.Equals(Digest(e), e.ContentDigest, StringComparison.Ordinal))
            {
                return new(checkedLines, unchained, head, $"{where}: its content does not match its digest (edited)", e.Id);
            }

            if (e.RedactedAt is not null && !redactedByErasure.Contains(e.Id))
            {
                return new(checkedLines, unchained, head, $"{where}: marked redacted, but no erasure line names it", e.Id);
            }

            if (e.ContentDigest is null || !string.Equals(Link(previous, expected, e.ContentDigest), e.Hash, StringComparison.Ordinal))
            {
                return new(checkedLines, unchained, head, $"{where}: its hash does not follow from the line before (edited, inserted or reordered)", e.Id);
            }

            previous = e.Hash!;
            expected++;
            checkedLines++;
        }

        if (head.Sequence != expected - 1 || !string.Equals(head.Hash, previous, StringComparison.Ordinal))
        {
            return new(checkedLines, unchained, head, $"the chain ends at sequence {expected - 1} but its head says {head.Sequence} (lines at the end were deleted, or the head was changed)", null);
        }

        return new(checkedLines, unchained, head, null, null);
    }
}

/// <summary>What <see cref="AuditChainHash.VerifyAsync"/> found: <see cref="Problem"/> is null when the chain holds.</summary>
internal sealed record AuditVerification(long Lines, int Unchained, AuditChainHead Head, string? Problem, long? FirstBadId)
{
    /// <summary>Heads of the head file that the chain was found to hold.</summary>
    public int Anchors { get; init; }
}
