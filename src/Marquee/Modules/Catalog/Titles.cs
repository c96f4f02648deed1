using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text;
using Marquee.Catalog.Contracts;
using Marquee.Catalog.Data;
using Marquee.Platform.Audit;
using Marquee.Platform.Web;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Catalog;

/// <summary>A new title as an operator enters it.</summary>
internal sealed record NewTitle(
    [property: Required, StringLength(300, MinimumLength = 1)] string Name,
    [property: Required] TitleKind? Kind,
    [property: StringLength(4000)] string? Synopsis = null,
    [property: Range(0, 360_000)] double? DurationSeconds = null,
    [property: Url, StringLength(1000)] string? ArtworkUrl = null,
    [property: StringLength(200)] string? Collection = null,
    [property: Range(1, 100_000)] int? Number = null);

internal sealed partial class Titles(CatalogDb db, TimeProvider time, CatalogSearch search, Visibility visibility) : ICatalog, ITitleAgeRatings
{
    public async Task<TitleSummary?> FindAsync(Guid titleId, CancellationToken cancellationToken) =>
        (await db.Titles.AsNoTracking().FirstOrDefaultAsync(t => t.Id == titleId, cancellationToken))?.ToSummary();

    public async Task<TitleSummary?> FindBySlugAsync(string slug, CancellationToken cancellationToken) =>
        (await db.Titles.AsNoTracking().FirstOrDefaultAsync(t => t.Slug == slug, cancellationToken))?.ToSummary();

    public async Task<IReadOnlyList<TitleSummary>> ListAsync(TitleKind? kind, int skip, int take, CancellationToken cancellationToken)
    {
        var query = db.Titles.AsNoTracking();
        if (kind is { } k)
        {
            query = query.Where(t => t.Kind == k);
        }

        var rows = await query.OrderByDescending(t => t.CreatedAt).ThenBy(t => t.Name)
            .Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, 200)).ToListAsync(cancellationToken);
        return [.. rows.Select(t => t.ToSummary())];
    }

    public Task<IReadOnlyList<TitleSummary>> NewestAsync(int take, CancellationToken cancellationToken) =>
        ListAsync(kind: null, skip: 0, take, cancellationToken);

    public async Task<IReadOnlyList<TitleSummary>> NewestVisibleAsync(int take, HttpContext http, CancellationToken cancellationToken)
    {
        // Some of the newest may be hidden: look a few pages deep so that the row is still full.
        var rows = await ListAsync(kind: null, skip: 0, Math.Clamp(take, 1, 50) * 4, cancellationToken);
        return [.. (await visibility.PlayableAsync(rows, http, cancellationToken)).Take(take)];
    }

    public Task<int> CountAsync(CancellationToken cancellationToken) => db.Titles.CountAsync(cancellationToken);

    public async Task<IReadOnlyList<TitleSummary>> CollectionAsync(string collection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(collection);
        var name = collection.Trim();
        if (name.Length == 0)
        {
            return [];
        }

        var rows = await db.Titles.AsNoTracking().Where(t => t.Collection == name)
            .OrderBy(t => t.Number == null).ThenBy(t => t.Number).ThenBy(t => t.CreatedAt).ThenBy(t => t.Name)
            .Take(500).ToListAsync(cancellationToken);
        return [.. rows.Select(t => t.ToSummary())];
    }

    public async Task<TitleSummary> CreateAsync(TitleDraft draft, RequestActor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var input = new NewTitle(draft.Name, draft.Kind, draft.Synopsis, Collection: draft.Collection, Number: draft.Number);
        var errors = Validation.Errors(input);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors.SelectMany(e => e.Value)), nameof(draft));
        }

        return await CreateAsync(input, actor, cancellationToken);
    }

    /// <summary>Takes the playable duration Media measured when the title's own is not set; the caller saves.</summary>
    public async Task ApplyMeasuredDurationAsync(Guid titleId, TimeSpan duration, CancellationToken cancellationToken)
    {
        var title = await db.Titles.FirstOrDefaultAsync(t => t.Id == titleId, cancellationToken);
        if (title is not null && title.DurationMs is null)
        {
            title.DurationMs = (long)duration.TotalMilliseconds;
            title.ChangedTicks = time.GetUtcNow().UtcTicks;
        }
    }

    /// <summary>Creates a title; its <see cref="TitleCreated"/> event and audit line are committed in the same transaction.</summary>
    public async Task<TitleSummary> CreateAsync(NewTitle input, RequestActor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(actor);
        var now = time.GetUtcNow();
        var title = new Title
        {
            Id = Guid.CreateVersion7(now),
            Name = input.Name.Trim(),
            Slug = await UniqueSlugAsync(Slugify(input.Name), cancellationToken),
            Kind = input.Kind ?? TitleKind.Film,
            Synopsis = string.IsNullOrWhiteSpace(input.Synopsis) ? null : input.Synopsis.Trim(),
            DurationMs = input.DurationSeconds is { } s ? (long)Math.Round(s * 1000) : null,
            ArtworkUrl = string.IsNullOrWhiteSpace(input.ArtworkUrl) ? null : input.ArtworkUrl,
            Collection = string.IsNullOrWhiteSpace(input.Collection) ? null : input.Collection.Trim(),
            Number = input.Number,
            CreatedAt = now,
            ChangedTicks = now.UtcTicks,
        };
        db.Titles.Add(title);
        db.Publish(new TitleCreated(title.Id, title.Slug, title.Name, title.Kind));
        db.Publish(new AuditRequested(
            new AuditRecord(actor.Name, "catalog.title-created", $"title:{title.Id}", actor.From, title.Name), now));
        await db.SaveChangesAsync(cancellationToken);
        await search.IndexAsync([title.Id], cancellationToken);
        return title.ToSummary();
    }

    private async Task<string> UniqueSlugAsync(string baseSlug, CancellationToken cancellationToken)
    {
        var slug = baseSlug;
        for (var n = 2; await db.Titles.AnyAsync(t => t.Slug == slug, cancellationToken); n++)
        {
            slug = $"{baseSlug}-{n.ToString(CultureInfo.InvariantCulture)}";
        }

        return slug;
    }

    /// <summary>A readable URL part: lower-case ASCII letters and digits joined by hyphens; accents are dropped.</summary>
    internal static string Slugify(string name)
    {
        var normalized = name.Normalize(NormalizationForm.FormD);
        var sb = new StringBuilder(normalized.Length);
        var hyphen = false;
        foreach (var c in normalized)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark)
            {
                continue;
            }

            if (char.IsAsciiLetterOrDigit(c))
            {
                sb.Append(char.ToLowerInvariant(c));
                hyphen = false;
            }
            else if (!hyphen && sb.Length > 0)
            {
                sb.Append('-');
                hyphen = true;
            }
        }

        var slug = sb.ToString().Trim('-');
        if (slug.Length > 80)
        {
            slug = slug[..80].Trim('-');
        }

        return slug.Length == 0 ? "title" : slug;
    }
}

/// <summary>Catalog's figures on the console overview.</summary>
internal sealed class CatalogFigures(Titles titles) : IConsoleFigures
{
    public async Task<IReadOnlyList<ConsoleFigure>> ReadAsync(CancellationToken cancellationToken) =>
        [new("Catalog", "Titles", await titles.CountAsync(cancellationToken), "/console/catalog")];
}
