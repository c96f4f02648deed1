using Marquee.Rights.Contracts;
using Marquee.Rights.Data;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Rights;

/// <summary>
/// All-time revenue per title and currency, attributed as royalty statements do: the title's direct revenue plus pooled revenue
/// × the title's minutes watched / all minutes watched (rounded to the cent, half to even).
/// </summary>
internal sealed class TitleRevenues(RightsDb db) : ITitleRevenue
{
    public async Task<IReadOnlyList<TitleRevenue>> RevenueAsync(IReadOnlyCollection<Guid> titleIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(titleIds);
        var ids = titleIds.Distinct().ToList();
        // Summed here: SQLite cannot sum decimals in SQL.
        var revenue = (await db.Revenue.AsNoTracking().Select(r => new { r.TitleId, r.Currency, r.Amount }).ToListAsync(cancellationToken))
            .GroupBy(r => new { r.TitleId, r.Currency }).Select(g => new { g.Key.TitleId, g.Key.Currency, Amount = g.Sum(r => r.Amount) }).ToList();
        var minutes = await db.Usage.AsNoTracking().GroupBy(u => u.TitleId).Select(g => new { TitleId = g.Key, Seconds = g.Sum(u => u.Seconds) }).ToListAsync(cancellationToken);
        var allSeconds = minutes.Sum(m => m.Seconds);
        var result = new List<TitleRevenue>();
        foreach (var currency in revenue.Select(r => r.Currency).Distinct())
        {
            var pooled = revenue.Where(r => r.TitleId is null && r.Currency == currency).Sum(r => r.Amount);
            foreach (var id in ids)
            {
                var direct = revenue.Where(r => r.TitleId == id && r.Currency == currency).Sum(r => r.Amount);
                var seconds = minutes.FirstOrDefault(m => m.TitleId == id)?.Seconds ?? 0;
                var share = allSeconds == 0 ? 0 : pooled * (decimal)seconds / (decimal)allSeconds;
                var amount = Math.Round(direct + share, 2, MidpointRounding.ToEven);
                if (amount != 0)
                {
                    result.Add(new TitleRevenue(id, currency, amount));
                }
            }
        }

        return result;
    }
}
