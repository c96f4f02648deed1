namespace Marquee.Catalog.Contracts;

/// <summary>
/// Catalog's read contract for age ratings (for the household profiles' maturity limits): the minimum age of a title,
/// null when it has none. Declared by the Identity work; Catalog implements it once titles carry an age rating
/// (until then no implementation is registered and no title is held back by a maturity limit).
/// </summary>
public interface ITitleAgeRatings
{
    Task<int?> MinimumAgeAsync(Guid titleId, CancellationToken cancellationToken);
}
