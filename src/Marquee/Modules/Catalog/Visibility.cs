using Marquee.Catalog.Contracts;
using Marquee.Catalog.Data;
using Marquee.Delivery.Contracts;
using Marquee.Identity.Contracts;
using Marquee.Platform.Web;
using Marquee.Rights.Contracts;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Catalog;

/// <summary>
/// Browse and search show only what the viewer may play now: what Rights allows (<see cref="ITitleAvailability"/>: the
/// viewer's country from the client address, the web platform) and what the active household profile may watch
/// (Identity's <see cref="IProfileMaturity"/> limit against the title's age rating in the viewer's country, else its
/// <c>*</c> default; unrated titles show). Without the Rights or Identity module, their part restricts nothing.
/// </summary>
internal sealed class Visibility(IServiceProvider services, IClientCountry country, CatalogDb db)
{
    public async Task<IReadOnlyList<TitleSummary>> PlayableAsync(IReadOnlyList<TitleSummary> titles, HttpContext? http, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(titles);
        var playable = await PlayableIdsAsync([.. titles.Select(t => t.Id)], http, cancellationToken);
        return playable is null ? titles : [.. titles.Where(t => playable.Contains(t.Id))];
    }

    /// <summary>The playable ones among <paramref name="titleIds"/>; null when nothing restricts them.</summary>
    public async Task<IReadOnlySet<Guid>?> PlayableIdsAsync(IReadOnlyCollection<Guid> titleIds, HttpContext? http, CancellationToken cancellationToken)
    {
        if (titleIds.Count == 0)
        {
            return null;
        }

        var code = http is null ? country.Current() : country.Of(http);
        IReadOnlySet<Guid>? playable = null;
        if (services.GetService<ITitleAvailability>() is { } availability)
        {
            playable = await availability.PlayableAsync(titleIds, code, ClientPlatform.Web, cancellationToken);
        }

        if (await LimitAsync(http, cancellationToken) is { } limit)
        {
            var above = await AboveAsync(playable ?? titleIds, code, limit, cancellationToken);
            if (above.Count > 0)
            {
                playable = (playable ?? titleIds).Where(id => !above.Contains(id)).ToHashSet();
            }
        }

        return playable;
    }

    /// <summary>The active profile's maturity limit for this request; null when none.</summary>
    public async Task<int?> LimitAsync(HttpContext? http, CancellationToken cancellationToken) =>
        http is not null && services.GetService<IProfileMaturity>() is { } maturity
            ? await maturity.LimitAsync(http.User, cancellationToken)
            : null;

    /// <summary>The titles among <paramref name="titleIds"/> rated above <paramref name="limit"/> in <paramref name="territory"/>.</summary>
    private async Task<HashSet<Guid>> AboveAsync(IEnumerable<Guid> titleIds, string? territory, int limit, CancellationToken cancellationToken)
    {
        var ids = titleIds.ToList();
        var code = territory?.ToUpperInvariant();
        var ratings = await db.AgeRatings.AsNoTracking()
            .Where(a => ids.Contains(a.TitleId) && (a.Territory == code || a.Territory == TitleAgeRating.AnyTerritory))
            .ToListAsync(cancellationToken);
        return ratings.GroupBy(a => a.TitleId)
            .Where(g => (g.FirstOrDefault(a => a.Territory == code) ?? g.First()).MinimumAge > limit)
            .Select(g => g.Key).ToHashSet();
    }
}
