using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Marquee.Media.Contracts;
using Marquee.Platform;
using Marquee.Platform.Web;
using Marquee.Rights.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Rights;

/// <summary>The body of <c>POST /api/rights/contracts/{id}/deliveries</c>: a title the provider delivers by a date (UTC).</summary>
internal sealed record NewDelivery([property: Required] Guid? TitleId, [property: Required] DateTimeOffset? DueAt);

internal sealed record DeliveryView(Guid Id, Guid ContractId, Guid TitleId, DateTimeOffset DueAt, DateTimeOffset? DeliveredAt, string State, int Rejected);

internal sealed record DocumentView(Guid Id, Guid ContractId, string FileName, string? Label, string Sha256, long SizeBytes, int Sequence, DateTimeOffset UploadedAt);

/// <summary>
/// A provider's scorecard. On time: deliveries whose first accepted source reached the asset library by the due date, out of
/// those due (delivered, or overdue and still missing). Rejections: sources of its titles the pipeline refused, out of all
/// received. Performance: streams and minutes watched of its titles (from the play events Rights already counts).
/// </summary>
internal sealed record Scorecard(
    Guid ProviderId, string Provider, int Titles, int DeliveriesScheduled, int OnTime, int Late, int Overdue, int Pending, decimal? OnTimePercent,
    int SourcesAccepted, int SourcesRejected, decimal? RejectedPercent, long Streams, decimal MinutesWatched, decimal? StreamsPerTitle,
    IReadOnlyList<DeliveryView> Deliveries);

/// <summary>Delivery schedules, signed documents (hash-chained) and supplier scorecards.</summary>
internal sealed class Suppliers(RightsDb db, ContractBook book, IOptions<MarqueeOptions> options, IServiceProvider services, TimeProvider time)
{
    public string DocumentsRoot => Path.Combine(options.Value.FullDataDir, "rights");

    /// <summary>Schedules the delivery of a title under a contract; appended to the contract's history.</summary>
    public async Task<(ContractOutcome Outcome, DeliveryView? Delivery)> ScheduleAsync(Guid contractId, NewDelivery input, RequestActor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (await db.Contracts.FirstOrDefaultAsync(c => c.Id == contractId, cancellationToken) is not { } contract)
        {
            return (new ContractOutcome.NotFound(), null);
        }

        var titleId = input.TitleId!.Value;
        if (services.GetService<Marquee.Catalog.Contracts.ICatalog>() is { } catalog && await catalog.FindAsync(titleId, cancellationToken) is null)
        {
            return (new ContractOutcome.Invalid($"There is no title {titleId}."), null);
        }

        if (await db.ContractDeliveries.AnyAsync(d => d.ContractId == contractId && d.TitleId == titleId, cancellationToken))
        {
            return (new ContractOutcome.Conflict("This title's delivery is already scheduled under the contract."), null);
        }

        var now = time.GetUtcNow();
        var delivery = new ContractDelivery { Id = Guid.CreateVersion7(now), ContractId = contractId, TitleId = titleId, DueAt = input.DueAt!.Value.ToUniversalTime(), CreatedAt = now };
        db.ContractDeliveries.Add(delivery);
        var outcome = await book.AppendAsync(contract, "delivery-scheduled", new Dictionary<string, string?>
        {
            ["titleId"] = titleId.ToString("D"),
            ["dueAt"] = ContractChain.Timestamp(delivery.DueAt),
        }, actor, cancellationToken);
        return (outcome, outcome is ContractOutcome.Done ? new DeliveryView(delivery.Id, contractId, titleId, delivery.DueAt, null, "pending", 0) : null);
    }

    /// <summary>
    /// Attaches a signed document: the file is stored under <c>rights/documents/&lt;contract&gt;/</c> named by its SHA-256, and a
    /// <c>document-attached</c> entry with that hash joins the contract's chain in the same transaction as the document's row.
    /// </summary>
    public async Task<(ContractOutcome Outcome, DocumentView? Document)> AttachAsync(Guid contractId, Stream content, string fileName, string? label, RequestActor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (await db.Contracts.FirstOrDefaultAsync(c => c.Id == contractId, cancellationToken) is not { } contract)
        {
            return (new ContractOutcome.NotFound(), null);
        }

        var folder = Path.Combine(DocumentsRoot, "documents", contractId.ToString("N"));
        Directory.CreateDirectory(folder);
        var temporary = Path.Combine(folder, Guid.NewGuid().ToString("N") + ".part");
        string sha;
        long size;
        await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, useAsync: true))
        {
            await content.CopyToAsync(file, cancellationToken);
            await file.FlushAsync(cancellationToken);
            size = file.Length;
            file.Position = 0;
            sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
        }

        var extension = Path.GetExtension(fileName).ToLowerInvariant();
        extension = extension.Length <= 10 && extension.Skip(1).All(char.IsAsciiLetterOrDigit) ? extension : "";
        var stored = Path.Combine(folder, sha + extension);
        var existed = File.Exists(stored);
        if (existed)
        {
            File.Delete(temporary); // the same content attached again: one file
        }
        else
        {
            File.Move(temporary, stored);
        }

        var now = time.GetUtcNow();
        var document = new ContractDocument
        {
            Id = Guid.CreateVersion7(now),
            ContractId = contractId,
            FileName = Path.GetFileName(fileName) is { Length: > 0 and <= 300 } n ? n : "document" + extension,
            Label = string.IsNullOrWhiteSpace(label) ? null : label.Trim(),
            StoredPath = Path.GetRelativePath(DocumentsRoot, stored),
            Sha256 = sha,
            SizeBytes = size,
            UploadedAt = now,
            Sequence = contract.Version + 1, // the entry appended below (a concurrent change makes the save fail: nothing kept)
        };
        db.ContractDocuments.Add(document);
        var (outcome, sequence) = await book.AppendEntryAsync(contract, "document-attached", new Dictionary<string, string?>
        {
            ["document"] = document.Id.ToString("D"),
            ["fileName"] = document.FileName,
            ["label"] = document.Label,
            ["file"] = document.StoredPath.Replace('\\', '/'),
            ["sha256"] = sha,
            ["size"] = size.ToString(CultureInfo.InvariantCulture),
        }, actor, cancellationToken);
        if (sequence is null)
        {
            if (!existed)
            {
                File.Delete(stored);
            }

            return (outcome, null);
        }

        return (outcome, View(document));
    }

    public async Task<IReadOnlyList<DocumentView>?> DocumentsAsync(Guid contractId, CancellationToken cancellationToken)
    {
        if (!await db.Contracts.AnyAsync(c => c.Id == contractId, cancellationToken))
        {
            return null;
        }

        return [.. (await db.ContractDocuments.AsNoTracking().Where(d => d.ContractId == contractId).ToListAsync(cancellationToken)).OrderBy(d => d.Sequence).Select(View)];
    }

    /// <summary>The stored file of a document, when it exists and is inside the documents folder.</summary>
    public async Task<(ContractDocument Document, string Path)?> DocumentFileAsync(Guid contractId, Guid documentId, CancellationToken cancellationToken)
    {
        if (await db.ContractDocuments.AsNoTracking().FirstOrDefaultAsync(d => d.ContractId == contractId && d.Id == documentId, cancellationToken) is not { } document)
        {
            return null;
        }

        var root = Path.GetFullPath(Path.Combine(DocumentsRoot, "documents")) + Path.DirectorySeparatorChar;
        var path = Path.GetFullPath(Path.Combine(DocumentsRoot, document.StoredPath));
        return path.StartsWith(root, StringComparison.Ordinal) && File.Exists(path) ? (document, path) : null;
    }

    public async Task<IReadOnlyList<DeliveryView>?> DeliveriesAsync(Guid contractId, CancellationToken cancellationToken)
    {
        if (!await db.Contracts.AnyAsync(c => c.Id == contractId, cancellationToken))
        {
            return null;
        }

        var deliveries = await db.ContractDeliveries.AsNoTracking().Where(d => d.ContractId == contractId).ToListAsync(cancellationToken);
        return await TrackAsync(deliveries, cancellationToken);
    }

    /// <summary>Every provider's scorecard, best on-time rate first.</summary>
    public async Task<IReadOnlyList<Scorecard>> ScorecardsAsync(CancellationToken cancellationToken)
    {
        var providers = await db.Providers.AsNoTracking().ToListAsync(cancellationToken);
        var contracts = await db.Contracts.AsNoTracking().Select(c => new { c.Id, c.ProviderId }).ToListAsync(cancellationToken);
        var deliveries = await db.ContractDeliveries.AsNoTracking().ToListAsync(cancellationToken);
        var licensed = await db.LicenceTitles.AsNoTracking()
            .Join(db.Licences.AsNoTracking().Where(l => l.ContractId != null), t => t.LicenceId, l => l.Id, (t, l) => new { ContractId = l.ContractId!.Value, t.TitleId })
            .ToListAsync(cancellationToken);
        var tracked = (await TrackAsync(deliveries, cancellationToken)).ToDictionary(d => d.Id);
        var allTitles = deliveries.Select(d => d.TitleId).Concat(licensed.Select(l => l.TitleId)).Distinct().ToList();
        var library = await LibraryAsync(allTitles, cancellationToken);
        var usage = await db.Usage.AsNoTracking().Where(u => allTitles.Contains(u.TitleId))
            .GroupBy(u => u.TitleId).Select(g => new { TitleId = g.Key, Streams = g.LongCount(), Seconds = g.Sum(u => u.Seconds) }).ToListAsync(cancellationToken);

        var cards = new List<Scorecard>();
        foreach (var provider in providers)
        {
            var contractIds = contracts.Where(c => c.ProviderId == provider.Id).Select(c => c.Id).ToHashSet();
            var mine = deliveries.Where(d => contractIds.Contains(d.ContractId)).Select(d => tracked[d.Id]).OrderBy(d => d.DueAt).ToList();
            var titles = mine.Select(d => d.TitleId).Concat(licensed.Where(l => contractIds.Contains(l.ContractId)).Select(l => l.TitleId)).ToHashSet();
            var onTime = mine.Count(d => d.State == "on-time");
            var late = mine.Count(d => d.State == "late");
            var overdue = mine.Count(d => d.State == "overdue");
            var accepted = titles.Sum(t => library.GetValueOrDefault(t)?.Accepted ?? 0);
            var rejected = titles.Sum(t => library.GetValueOrDefault(t)?.Rejected ?? 0);
            var plays = usage.Where(u => titles.Contains(u.TitleId)).ToList();
            var streams = plays.Sum(u => u.Streams);
            cards.Add(new Scorecard(
                provider.Id, provider.Name, titles.Count, mine.Count, onTime, late, overdue, mine.Count(d => d.State == "pending"),
                Percent(onTime, onTime + late + overdue),
                accepted, rejected, Percent(rejected, accepted + rejected),
                streams, Math.Round((decimal)plays.Sum(u => u.Seconds) / 60m, 1, MidpointRounding.ToEven),
                titles.Count == 0 ? null : Math.Round((decimal)streams / titles.Count, 2, MidpointRounding.ToEven),
                mine));
        }

        return [.. cards.OrderByDescending(c => c.OnTimePercent ?? -1).ThenBy(c => c.Provider, StringComparer.CurrentCultureIgnoreCase)];
    }

    private static decimal? Percent(int part, int whole) => whole == 0 ? null : Math.Round(100m * part / whole, 1, MidpointRounding.ToEven);

    private async Task<Dictionary<Guid, TitleDelivery>> LibraryAsync(IReadOnlyCollection<Guid> titles, CancellationToken cancellationToken) =>
        services.GetService<IAssetLibrary>() is { } library && titles.Count > 0
            ? (await library.DeliveriesAsync(titles, cancellationToken)).ToDictionary(d => d.TitleId)
            : [];

    /// <summary>Each delivery with when its title's first accepted source reached the asset library and what that makes it.</summary>
    private async Task<IReadOnlyList<DeliveryView>> TrackAsync(IReadOnlyList<ContractDelivery> deliveries, CancellationToken cancellationToken)
    {
        var library = await LibraryAsync([.. deliveries.Select(d => d.TitleId).Distinct()], cancellationToken);
        var now = time.GetUtcNow();
        return [.. deliveries.OrderBy(d => d.DueAt).Select(d =>
        {
            var found = library.GetValueOrDefault(d.TitleId);
            var at = found?.FirstDeliveredAt;
            var state = at is { } delivered ? (delivered <= d.DueAt ? "on-time" : "late") : now > d.DueAt ? "overdue" : "pending";
            return new DeliveryView(d.Id, d.ContractId, d.TitleId, d.DueAt, at, state, found?.Rejected ?? 0);
        })];
    }

    private static DocumentView View(ContractDocument d) => new(d.Id, d.ContractId, d.FileName, d.Label, d.Sha256, d.SizeBytes, d.Sequence, d.UploadedAt);
}

/// <summary>Checks the files of signed documents against the hashes the chains record (part of <see cref="ChainVerifier"/>).</summary>
internal static class DocumentCheck
{
    /// <summary>Problems with the documents a chain's <c>document-attached</c> entries name: missing, or content that no longer hashes the same.</summary>
    public static IEnumerable<ChainProblem> Check(string rightsRoot, ContractHistoryEntry entry)
    {
        string? action = null, file = null, sha = null, name = null;
        try
        {
            using var doc = JsonDocument.Parse(entry.Change);
            action = doc.RootElement.TryGetProperty("action", out var a) ? a.GetString() : null;
            if (action == "document-attached" && doc.RootElement.TryGetProperty("changed", out var changed) && changed.ValueKind == JsonValueKind.Object)
            {
                file = changed.TryGetProperty("file", out var f) ? f.GetString() : null;
                sha = changed.TryGetProperty("sha256", out var s) ? s.GetString() : null;
                name = changed.TryGetProperty("fileName", out var n) ? n.GetString() : null;
            }
        }
        catch (JsonException)
        {
            yield break; // an unreadable entry is already reported by its hash
        }

        if (action != "document-attached")
        {
            yield break;
        }

        var root = Path.GetFullPath(Path.Combine(rightsRoot, "documents")) + Path.DirectorySeparatorChar;
        var path = file is null ? null : Path.GetFullPath(Path.Combine(rightsRoot, file));
        if (path is null || sha is null || !path.StartsWith(root, StringComparison.Ordinal))
        {
            yield return new ChainProblem(entry.ContractId, entry.Sequence, "the document entry does not name a stored file and its hash.");
            yield break;
        }

        if (!File.Exists(path))
        {
            yield return new ChainProblem(entry.ContractId, entry.Sequence, $"the signed document '{name}' is missing ({file}).");
            yield break;
        }

        using var stream = File.OpenRead(path);
        var actual = Convert.ToHexStringLower(SHA256.HashData(stream));
        if (!string.Equals(actual, sha, StringComparison.Ordinal))
        {
            yield return new ChainProblem(entry.ContractId, entry.Sequence,
                $"the signed document '{name}' ({file}) no longer matches the hash its history entry records (sha256 {actual[..12]}… instead of {sha[..Math.Min(12, sha.Length)]}…): the file was replaced or altered.");
        }
    }
}
