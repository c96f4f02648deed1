using Marquee.Platform.Events;

namespace Marquee.Catalog.Contracts;

/// <summary>What a title is, for playback and pages: film, episode, music track or podcast episode.</summary>
public enum TitleKind
{
    Film,
    Episode,
    Track,
    Podcast,
}

/// <summary>A title as other modules see it.</summary>
public sealed record TitleSummary(Guid Id, string Slug, string Name, TitleKind Kind, string? Synopsis, TimeSpan? Duration, string? ArtworkUrl, DateTimeOffset CreatedAt);

/// <summary>Catalog's read contract for other modules.</summary>
public interface ICatalog
{
    Task<TitleSummary?> FindAsync(Guid titleId, CancellationToken cancellationToken);

    /// <summary>The most recently added titles, newest first (at most <paramref name="take"/>, capped at 200).</summary>
    Task<IReadOnlyList<TitleSummary>> NewestAsync(int take, CancellationToken cancellationToken);
}

[EventName("catalog.title-created.v1")]
public sealed record TitleCreated(Guid TitleId, string Slug, string Name, TitleKind Kind) : IDomainEvent;
