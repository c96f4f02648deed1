using Marquee.Catalog.Data;

namespace Marquee.Tests.Architecture.Fixtures;

/// <summary>A deliberate offender: code outside Catalog that uses Catalog's data context. The architecture rule must flag it.</summary>
internal sealed class ReachesIntoCatalog(CatalogDb db)
{
    public int Count() => db.Titles.Count();
}

/// <summary>A deliberate offender that uses only Catalog's contract: the rule must let it pass.</summary>
internal sealed class UsesCatalogContract(Marquee.Catalog.Contracts.ICatalog catalog)
{
    public Task<Marquee.Catalog.Contracts.TitleSummary?> Find(Guid id) => catalog.FindAsync(id, CancellationToken.None);
}
