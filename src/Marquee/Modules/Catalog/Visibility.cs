using Marquee.Catalog.Contracts;
using Marquee.Delivery.Contracts;
using Marquee.Platform.Web;
using Marquee.Rights.Contracts;

namespace Marquee.Catalog;

/// <summary>
/// Browse and search show only what the viewer may play now, as Rights says (<see cref="ITitleAvailability"/>: the
/// viewer's country from the client address, the web platform). Without the Rights module every title shows.
/// </summary>
internal sealed class Visibility(IServiceProvider services, IClientCountry country)
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
        if (services.GetService<ITitleAvailability>() is not { } availability || titleIds.Count == 0)
        {
            return null;
        }

        var code = http is null ? country.Current() : country.Of(http);
        return await availability.PlayableAsync(titleIds, code, ClientPlatform.Web, cancellationToken);
    }
}
