using Marquee.Catalog.Data;
using Marquee.Rights.Contracts;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Catalog;

/// <summary>The body of <c>POST /api/catalog/value</c>: a candidate title that is not in the catalogue yet.</summary>
internal sealed record ValueCandidate(List<string>? Genres, List<string>? People, List<string>? Tags, string? Collection, int? Year);

/// <summary>Estimates for a candidate title from the catalogue's history: plays (views) from Catalog, revenue from Rights when registered.</summary>
internal sealed class ContentValue(CatalogDb db, IServiceProvider services)
{
    public async Task<ValueEstimate?> ForTitleAsync(Guid titleId, CancellationToken cancellationToken)
    {
        var history = await HistoryAsync(cancellationToken);
        if (history.Features.GetValueOrDefault(titleId) is not { } features)
        {
            return null;
        }

        return ContentValueModel.Estimate(features, [.. history.Titles.Where(t => t.Id != titleId)]);
    }

    public async Task<ValueEstimate> ForCandidateAsync(ValueCandidate candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var history = await HistoryAsync(cancellationToken);
        return ContentValueModel.Estimate(ValueFeatures.Of(candidate.Genres ?? [], candidate.People ?? [], candidate.Tags ?? [], candidate.Collection, candidate.Year), history.Titles);
    }

    private async Task<(List<ValueHistory> Titles, Dictionary<Guid, ValueFeatures> Features)> HistoryAsync(CancellationToken cancellationToken)
    {
        var titles = await db.Titles.AsNoTracking().AsSplitQuery().Include(t => t.Genres).Include(t => t.Tags).Include(t => t.Credits).ThenInclude(c => c.Person)
            .ToListAsync(cancellationToken);
        var revenue = services.GetService<ITitleRevenue>() is { } rights
            ? (await rights.RevenueAsync([.. titles.Select(t => t.Id)], cancellationToken)).GroupBy(r => r.TitleId).ToDictionary(g => g.Key, g => (IReadOnlyDictionary<string, decimal>)g.ToDictionary(r => r.Currency, r => r.Amount))
            : [];
        var features = titles.ToDictionary(t => t.Id, t => ValueFeatures.Of(
            t.Genres.Select(g => g.Name), t.Credits.Where(c => c.Person is not null).Select(c => c.Person!.Name), t.Tags.Select(x => x.Tag), t.Collection, t.ReleaseDate?.Year));
        return ([.. titles.Select(t => new ValueHistory(t.Id, t.Name, features[t.Id], t.Plays, revenue.GetValueOrDefault(t.Id) ?? new Dictionary<string, decimal>()))], features);
    }
}
