using Marquee.Catalog.Contracts;
using Marquee.Catalog.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Catalog;

internal sealed record SearchResultItem(TitleSummary Title, float Score);

internal sealed record SearchResults(string Query, IReadOnlyList<SearchResultItem> Items);

internal sealed record MissedSearch(string Query, int Times, DateTimeOffset LastAt);

internal sealed record GenreDemand(string Genre, int Searches, int Titles);

internal sealed record DemandReport(DateTimeOffset Since, IReadOnlyList<MissedSearch> Missed, IReadOnlyList<GenreDemand> GenresShort);

/// <summary>Search for viewers (filtered by what they may play; misses logged) and the demand report for operators.</summary>
internal sealed class CatalogQueries(CatalogDb db, CatalogSearch search, Visibility visibility, TimeProvider time)
{
    public async Task<SearchResults> SearchAsync(string query, int take, HttpContext? http, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        take = Math.Clamp(take, 1, 100);
        var hits = await search.SearchAsync(query, take, cancellationToken);
        var ids = hits.Select(h => h.TitleId).ToList();
        var playable = await visibility.PlayableIdsAsync(ids, http, cancellationToken);
        var visible = hits.Where(h => playable is null || playable.Contains(h.TitleId)).Take(take).ToList();
        var visibleIds = visible.Select(h => h.TitleId).ToList();
        var rows = await db.Titles.AsNoTracking().Where(t => visibleIds.Contains(t.Id)).ToDictionaryAsync(t => t.Id, cancellationToken);
        var items = visible.Where(h => rows.ContainsKey(h.TitleId)).Select(h => new SearchResultItem(rows[h.TitleId].ToSummary(), h.Score)).ToList();
        if (items.Count == 0 && search.Words(query).Any())
        {
            var now = time.GetUtcNow();
            db.SearchMisses.Add(new SearchMiss { Id = Guid.CreateVersion7(now), Query = Normalize(query), At = now });
            await db.SaveChangesAsync(cancellationToken);
        }

        return new SearchResults(query, items);
    }

    /// <summary>Missed searches since <paramref name="window"/> ago, and the genres whose names were searched more often than titles carry them.</summary>
    public async Task<DemandReport> DemandAsync(TimeSpan window, CancellationToken cancellationToken)
    {
        var since = time.GetUtcNow() - window;
        var misses = await db.SearchMisses.AsNoTracking().Where(m => m.At >= since).OrderByDescending(m => m.At).Take(10_000).ToListAsync(cancellationToken);
        var missed = misses.GroupBy(m => m.Query, StringComparer.Ordinal)
            .Select(g => new MissedSearch(g.Key, g.Count(), g.Max(m => m.At)))
            .OrderByDescending(m => m.Times).ThenBy(m => m.Query, StringComparer.Ordinal).Take(100).ToList();

        // Genre demand: searches (missed ones, the only searches kept) that name a genre, against the titles of that genre.
        var genres = await db.TitleGenres.AsNoTracking().ToListAsync(cancellationToken);
        var supply = genres.GroupBy(g => g.Name.ToLowerInvariant()).ToDictionary(g => g.Key, g => g.Count());
        var known = KnownGenres.Concat(supply.Keys).Distinct(StringComparer.Ordinal);
        var short_ = known
            .Select(g => new GenreDemand(g, misses.Count(m => m.Query.Contains(g, StringComparison.Ordinal)), supply.GetValueOrDefault(g)))
            .Where(d => d.Searches > d.Titles)
            .OrderByDescending(d => d.Searches - d.Titles).ThenBy(d => d.Genre, StringComparer.Ordinal).ToList();
        return new DemandReport(since, missed, short_);
    }

    private static readonly string[] KnownGenres =
    [
        "action", "adventure", "animation", "comedy", "crime", "documentary", "drama", "family", "fantasy", "history", "horror",
        "music", "mystery", "romance", "science fiction", "sci-fi", "thriller", "war", "western", "jazz", "rock", "pop", "classical", "electronic",
    ];

    private static string Normalize(string query)
    {
        var q = string.Join(' ', query.Trim().ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return q.Length > 200 ? q[..200] : q;
    }
}
