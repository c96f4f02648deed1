using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Marquee.Platform;
using Marquee.Rights.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Rights;

/// <summary>
/// The hash chain of a contract's history. Each entry's hash is SHA-256 over its canonical content: contract id, sequence,
/// timestamp (UTC, milliseconds), actor, change JSON and the previous entry's hash (64 zeros for the first), one per line.
/// </summary>
internal static class ContractChain
{
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    public static string Hash(Guid contractId, int sequence, DateTimeOffset at, string actor, string change, string previousHash)
    {
        var canonical = string.Join('\n',
            contractId.ToString("D"),
            sequence.ToString(CultureInfo.InvariantCulture),
            Timestamp(at),
            actor,
            change,
            previousHash);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    public static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Both databases keep at least microseconds: entries are stamped to the millisecond so that the hash reads back the same.</summary>
    public static DateTimeOffset Stamp(DateTimeOffset now) =>
        new(now.UtcDateTime.Ticks - (now.UtcDateTime.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);

    public static bool IsHash(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigitLower);
}

/// <summary>A chain head as the head file records it.</summary>
internal sealed record ChainHead(Guid ContractId, int Sequence, string Hash, DateTimeOffset At);

/// <summary>
/// The append-only file outside the database (<c>&lt;DataDir&gt;/rights/chain-heads.log</c>) with one line per new head:
/// <c>TIMESTAMP CONTRACT_ID SEQUENCE HASH</c>. Rewriting a whole chain consistently in the database changes its head, which
/// then no longer matches the last line of that contract here.
/// </summary>
internal sealed class ChainHeads(IOptions<MarqueeOptions> options)
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public string Path => System.IO.Path.Combine(options.Value.FullDataDir, "rights", "chain-heads.log");

    public async Task AppendAsync(ChainHead head, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(head);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var line = $"{ContractChain.Timestamp(head.At)} {head.ContractId:D} {head.Sequence.ToString(CultureInfo.InvariantCulture)} {head.Hash}\n";
        await Gate.WaitAsync(cancellationToken);
        try
        {
            await using var file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            await file.WriteAsync(Encoding.UTF8.GetBytes(line), cancellationToken);
            file.Flush(flushToDisk: true);
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>The last head the file records for each contract, and lines that could not be read.</summary>
    public async Task<(Dictionary<Guid, ChainHead> Heads, List<string> Unreadable)> ReadAsync(CancellationToken cancellationToken)
    {
        var heads = new Dictionary<Guid, ChainHead>();
        var unreadable = new List<string>();
        if (!File.Exists(Path))
        {
            return (heads, unreadable);
        }

        var number = 0;
        foreach (var line in await File.ReadAllLinesAsync(Path, cancellationToken))
        {
            number++;
            if (line.Length == 0)
            {
                continue;
            }

            var parts = line.Split(' ');
            if (parts.Length == 4
                && DateTimeOffset.TryParse(parts[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                && Guid.TryParse(parts[1], out var contract)
                && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
                && ContractChain.IsHash(parts[3]))
            {
                heads[contract] = new ChainHead(contract, sequence, parts[3], at);
            }
            else
            {
                unreadable.Add($"line {number}");
            }
        }

        return (heads, unreadable);
    }
}

/// <summary>One thing wrong with a chain: the contract, the entry (when one is to blame) and what.</summary>
internal sealed record ChainProblem(Guid? ContractId, int? Sequence, string Message)
{
    public override string ToString() =>
        (ContractId is { } c ? $"contract {c}" : "head file") + (Sequence is { } s ? $", entry #{s}" : "") + $": {Message}";
}

/// <summary>The outcome of checking every chain against itself, the contracts' current state, and the head file.</summary>
internal sealed record ChainReport(int Contracts, int Entries, IReadOnlyList<ChainProblem> Problems, string HeadFile)
{
    public bool Intact => Problems.Count == 0;
}

/// <summary>Checks every contract's history chain (<c>marquee rights verify</c>, the API and the console).</summary>
internal sealed class ChainVerifier(RightsDb db, ChainHeads heads)
{
    public async Task<ChainReport> VerifyAsync(CancellationToken cancellationToken)
    {
        var problems = new List<ChainProblem>();
        var entries = await db.ContractHistory.AsNoTracking().OrderBy(e => e.ContractId).ThenBy(e => e.Sequence).ToListAsync(cancellationToken);
        var contracts = await db.Contracts.AsNoTracking().ToDictionaryAsync(c => c.Id, cancellationToken);
        var (fileHeads, unreadable) = await heads.ReadAsync(cancellationToken);
        problems.AddRange(unreadable.Select(l => new ChainProblem(null, null, $"{l} of {heads.Path} is not a head line.")));

        var byContract = entries.GroupBy(e => e.ContractId).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var id in contracts.Keys.Union(byContract.Keys).Union(fileHeads.Keys).Order())
        {
            var chain = byContract.GetValueOrDefault(id) ?? [];
            var previous = ContractChain.Genesis;
            var expected = 1;
            foreach (var entry in chain)
            {
                if (entry.Sequence != expected)
                {
                    problems.Add(new ChainProblem(id, expected, $"entry #{expected} is missing (the next is #{entry.Sequence})."));
                    expected = entry.Sequence;
                }

                if (!string.Equals(entry.PreviousHash, previous, StringComparison.Ordinal))
                {
                    problems.Add(new ChainProblem(id, entry.Sequence, "its previous-hash does not match the entry before it."));
                }

                var hash = ContractChain.Hash(entry.ContractId, entry.Sequence, entry.At, entry.Actor, entry.Change, entry.PreviousHash);
                if (!string.Equals(hash, entry.Hash, StringComparison.Ordinal))
                {
                    problems.Add(new ChainProblem(id, entry.Sequence, "its content does not match its hash (the entry was altered)."));
                }

                problems.AddRange(DocumentCheck.Check(System.IO.Path.GetDirectoryName(heads.Path)!, entry));
                previous = entry.Hash;
                expected++;
            }

            var head = chain.LastOrDefault();
            if (contracts.TryGetValue(id, out var contract))
            {
                if (head is null)
                {
                    problems.Add(new ChainProblem(id, null, "the contract has no history."));
                }
                else if (ContractState.Of(contract) != ContractState.FromChange(head.Change))
                {
                    problems.Add(new ChainProblem(id, head.Sequence, "the contract's current data differ from the state its last history entry records (changed outside the history)."));
                }
            }
            else if (head is not null)
            {
                problems.Add(new ChainProblem(id, null, "the contract has history but no longer exists."));
            }

            if (!fileHeads.TryGetValue(id, out var recorded))
            {
                if (head is not null)
                {
                    problems.Add(new ChainProblem(id, head.Sequence, $"its head is not in the head file {heads.Path}."));
                }
            }
            else if (head is null || recorded.Sequence != head.Sequence || !string.Equals(recorded.Hash, head.Hash, StringComparison.Ordinal))
            {
                problems.Add(new ChainProblem(id, head?.Sequence,
                    $"the head in the database (#{head?.Sequence ?? 0} {Short(head?.Hash)}) does not match the head file's (#{recorded.Sequence} {Short(recorded.Hash)}): the history was rewritten or cut short."));
            }
        }

        return new ChainReport(contracts.Count, entries.Count, problems, heads.Path);
    }

    private static string Short(string? hash) => hash is null ? "none" : hash[..12];
}

/// <summary>A contract's data as each history entry records it (the state after the change).</summary>
internal sealed record ContractState(
    Guid ProviderId, string Name, string Status, string Terms, string FeeModel, string Currency, decimal? FlatFee,
    decimal? MinimumGuarantee, decimal? RevenueSharePercent, decimal? PerStreamRate, string PaymentSchedule)
{
    public static ContractState Of(Contract c) => new(c.ProviderId, c.Name, c.Status.ToString(), c.Terms, c.FeeModel.ToString(), c.Currency,
        c.FlatFee, c.MinimumGuarantee, c.RevenueSharePercent, c.PerStreamRate, c.PaymentSchedule.ToString());

    public static ContractState? FromChange(string change)
    {
        try
        {
            using var doc = JsonDocument.Parse(change);
            return doc.RootElement.TryGetProperty("state", out var state) ? state.Deserialize<ContractState>(ContractChange.Json) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>One change as the history stores it: what was done, the fields that changed, and the state after.</summary>
internal sealed record ContractChange(string Action, IReadOnlyDictionary<string, string?>? Changed, ContractState State)
{
    /// <summary>Readable JSON (no \u003E for "->"): it is stored and hashed as text, and HTML pages encode it when they show it.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
