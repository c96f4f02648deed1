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

/// <summary>What a person did on a title.</summary>
public enum CreditRole
{
    Actor,
    Director,
    Writer,
    Producer,
    Composer,

    /// <summary>The performing artist of a track (schema.org <c>byArtist</c>).</summary>
    Artist,

    /// <summary>A podcast's host.</summary>
    Host,
    Guest,
}

/// <summary>
/// The minimum age for viewers in <paramref name="Territory"/>: an ISO 3166-1 alpha-2 code (upper case), or <c>*</c>,
/// the default for every territory without a rating of its own.
/// </summary>
public sealed record TitleAgeRating(string Territory, int MinimumAge)
{
    public const string AnyTerritory = "*";
}

/// <summary>A title as other modules see it.</summary>
/// <param name="Collection">The album (of a track) or show (of an episode or podcast episode) it belongs to, if any.</param>
/// <param name="Number">Its track or episode number within <paramref name="Collection"/>, if any.</param>
public sealed record TitleSummary(Guid Id, string Slug, string Name, TitleKind Kind, string? Synopsis, TimeSpan? Duration, string? ArtworkUrl, DateTimeOffset CreatedAt,
    string? Collection = null, int? Number = null);

/// <summary>A title another module asks Catalog to create (an upload or an ingest that names a new title).</summary>
public sealed record TitleDraft(string Name, TitleKind Kind, string? Synopsis = null, string? Collection = null, int? Number = null);

/// <summary>Catalog's contract for other modules.</summary>
public interface ICatalog
{
    Task<TitleSummary?> FindAsync(Guid titleId, CancellationToken cancellationToken);

    /// <summary>Creates a title (audited, <see cref="TitleCreated"/> published); throws <see cref="ArgumentException"/> on an invalid draft.</summary>
    Task<TitleSummary> CreateAsync(TitleDraft draft, Marquee.Platform.Web.RequestActor actor, CancellationToken cancellationToken);

    /// <summary>The most recently added titles, newest first (at most <paramref name="take"/>, capped at 200).</summary>
    Task<IReadOnlyList<TitleSummary>> NewestAsync(int take, CancellationToken cancellationToken);

    /// <summary>
    /// The newest titles the viewer of <paramref name="http"/> may see, as browse shows them: what Rights lets them play
    /// here and now, and nothing above their active profile's maturity limit (at most <paramref name="take"/>).
    /// </summary>
    Task<IReadOnlyList<TitleSummary>> NewestVisibleAsync(int take, HttpContext http, CancellationToken cancellationToken);

    /// <summary>
    /// The titles of a collection (an album's tracks, a show's episodes) in order: by number (unnumbered last), then
    /// as added. The name matches exactly; empty when there is no such collection (at most 500).
    /// </summary>
    Task<IReadOnlyList<TitleSummary>> CollectionAsync(string collection, CancellationToken cancellationToken);

    /// <summary>The title's age ratings, per territory and the <c>*</c> default (empty when unrated or no such title).</summary>
    Task<IReadOnlyList<TitleAgeRating>> AgeRatingsAsync(Guid titleId, CancellationToken cancellationToken);

    /// <summary>
    /// The minimum age that applies in <paramref name="territory"/> (ISO 3166-1 alpha-2, any case; null when unknown): the
    /// territory's own rating, else the <c>*</c> default, else null (unrated).
    /// </summary>
    Task<int?> MinimumAgeAsync(Guid titleId, string? territory, CancellationToken cancellationToken);
}

/// <summary>A title's details (names, genres, people, ratings...) were changed by an operator.</summary>
[EventName("catalog.title-updated.v1")]
public sealed record TitleUpdated(Guid TitleId, string Slug, string Name) : IDomainEvent;

[EventName("catalog.title-created.v1")]
public sealed record TitleCreated(Guid TitleId, string Slug, string Name, TitleKind Kind) : IDomainEvent;
