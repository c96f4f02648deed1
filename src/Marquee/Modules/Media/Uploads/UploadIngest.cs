using Marquee.Catalog.Contracts;
using Marquee.Platform.Audit;
using Marquee.Platform.Web;

namespace Marquee.Media.Uploads;

/// <summary>
/// A finished upload becomes a source of a title: moved into the sources folder and received by the pipeline.
/// Upload-Metadata names the title: <c>titleId</c> (an existing title) or <c>title</c> and <c>kind</c> (a new one).
/// Every step can be run again after a failure or a crash without doing it twice: the title made is recorded on the
/// upload before the file moves, the move is skipped when the file is already in place, and the asset is found by its
/// source file. The upload counts as completed only after all of it (see <see cref="UploadHandOff"/>).
/// </summary>
internal sealed class UploadIngest(Assets assets, ICatalog catalog, MediaStorage storage, UploadStore store, IAuditLog audit) : IUploadCompletion
{
    public async Task CompletedAsync(UploadInfo upload, string dataPath, RequestActor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upload);
        var fileName = upload.Metadata.GetValueOrDefault("filename") ?? "source";
        if (upload.TitleId is not { } titleId)
        {
            titleId = await TitleForAsync(upload, fileName, actor, cancellationToken);
            await store.SaveAsync(upload with { TitleId = titleId }, cancellationToken);
        }

        var extension = Path.GetExtension(fileName).ToLowerInvariant();
        var sourceName = $"{upload.Id:N}{extension}";
        var source = Path.Combine(storage.Sources, sourceName);
        Directory.CreateDirectory(storage.Sources);
        if (File.Exists(dataPath))
        {
            File.Move(dataPath, source, overwrite: true);
        }
        else if (!File.Exists(source))
        {
            throw new InvalidOperationException($"The bytes of upload {upload.Id:N} are gone: neither {dataPath} nor {source} exists.");
        }

        if (await assets.FindBySourceAsync(sourceName, cancellationToken) is not null)
        {
            return; // received by an earlier attempt that stopped before the upload was marked completed
        }

        TryParsePriority(upload.Metadata.GetValueOrDefault("priority"), out var priority); // checked when the upload was created
        var assetId = await assets.ReceiveAsync(titleId, sourceName, priority, cancellationToken);
        await audit.RecordAsync(new AuditRecord(actor.Name, "media.source-uploaded", $"asset:{assetId}", actor.From,
            $"{fileName} ({upload.Length} bytes) for title {titleId}"), cancellationToken);
    }

    /// <summary>Upload-Metadata's optional <c>priority</c>: a whole number from -1000 to 1000 (0 when absent).</summary>
    internal static bool TryParsePriority(string? value, out int priority)
    {
        priority = 0;
        return string.IsNullOrEmpty(value)
               || (int.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out priority)
                   && priority is >= MediaJobs.MinPriority and <= MediaJobs.MaxPriority);
    }

    private async Task<Guid> TitleForAsync(UploadInfo upload, string fileName, RequestActor actor, CancellationToken cancellationToken)
    {
        if (Guid.TryParse(upload.Metadata.GetValueOrDefault("titleId"), out var existing)
            && await catalog.FindAsync(existing, cancellationToken) is not null)
        {
            return existing;
        }

        var name = upload.Metadata.GetValueOrDefault("title") is { Length: > 0 } t ? t : Path.GetFileNameWithoutExtension(fileName);
        var kind = Enum.TryParse<TitleKind>(upload.Metadata.GetValueOrDefault("kind"), ignoreCase: true, out var k) ? k : TitleKind.Film;
        return (await catalog.CreateAsync(new TitleDraft(name, kind), actor, cancellationToken)).Id;
    }
}
