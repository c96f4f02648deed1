namespace Marquee.Media.Contracts;

/// <summary>
/// What the asset library knows of a title's deliveries: when its first accepted source arrived (null while none has),
/// how many sources were accepted, and how many the pipeline rejected (quality rejections).
/// </summary>
public sealed record TitleDelivery(Guid TitleId, DateTimeOffset? FirstDeliveredAt, int Accepted, int Rejected);

/// <summary>Media's asset library (DAM) as other modules may read it (Rights' supplier scorecard tracks deliveries here).</summary>
public interface IAssetLibrary
{
    /// <summary>One answer per title asked about (titles with no asset answer with nulls and zeros).</summary>
    Task<IReadOnlyList<TitleDelivery>> DeliveriesAsync(IReadOnlyCollection<Guid> titleIds, CancellationToken cancellationToken);
}
