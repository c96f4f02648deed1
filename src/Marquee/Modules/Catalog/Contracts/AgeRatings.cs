namespace Marquee.Catalog.Contracts;

/// <summary>
/// Catalog's read contract for age ratings (for the household profiles' maturity limits): the minimum age of a title
/// in the viewer's territory (its rating for that country, else its default rating <c>*</c>), null when it has none.
/// The same answer as <see cref="ICatalog.MinimumAgeAsync"/>, as a contract narrow enough for a test to fake.
/// </summary>
public interface ITitleAgeRatings
{
    Task<int?> MinimumAgeAsync(Guid titleId, string? country, CancellationToken cancellationToken);
}
