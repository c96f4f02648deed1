using Marquee.Catalog.Contracts;
using Marquee.Platform.Hosting;
using Marquee.Platform.Web;
using Marquee.Rights.Contracts;
using Marquee.Rights.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Rights;

/// <summary>
/// For <c>marquee demo</c>: one worldwide, non-exclusive licence (every platform and service model, ten years) for the demo
/// titles that have none, so that the demo stays playable even with <c>Marquee:Rights:RequireLicence</c> on.
/// </summary>
internal sealed class RightsDemo(ICatalog catalog, Licences licences, RightsDb db, TimeProvider time) : IDemoContent
{
    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        var titles = await catalog.NewestAsync(200, cancellationToken);
        var licensed = await db.LicenceTitles.Select(t => t.TitleId).Distinct().ToListAsync(cancellationToken);
        var missing = titles.Select(t => t.Id).Except(licensed).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        var now = time.GetUtcNow();
        var start = new DateTimeOffset(now.Year, 1, 1, 0, 0, 0, TimeSpan.Zero);
        await licences.CreateAsync(
            new NewLicence("Demo titles (openly licensed)", missing, start, start.AddYears(10), LicencePlatforms.All, ServiceModels.All, Worldwide: true),
            RequestActor.System, cancellationToken);
    }
}
