using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Marquee.Catalog.Contracts;
using Marquee.Catalog.Data;
using Marquee.Platform.Audit;
using Marquee.Platform.Web;
using Microsoft.EntityFrameworkCore;

namespace Marquee.Catalog;

/// <summary>A title's name and synopsis in one language.</summary>
internal sealed record TitleTextInput(
    [property: Required, StringLength(20)] string Language,
    [property: Required, StringLength(300, MinimumLength = 1)] string Name,
    [property: StringLength(4000)] string? Synopsis = null);

/// <summary>A person credited on a title: created by name when new.</summary>
internal sealed record CreditInput(
    [property: Required, StringLength(200, MinimumLength = 1)] string Name,
    [property: Required] CreditRole? Role,
    [property: StringLength(200)] string? Character = null);

/// <summary>
/// The body of <c>PUT /api/catalog/titles/{id}/details</c>: everything beyond name and kind, replaced as a whole (a list
/// left out or empty clears it). A text in the title's default language renames it and replaces its synopsis.
/// </summary>
internal sealed partial record TitleDetailsInput(
    [property: StringLength(20)] string? DefaultLanguage = null,
    [property: Range(1, 1000)] int? Season = null,
    DateOnly? ReleaseDate = null,
    bool Exclusive = false,
    [property: Url, StringLength(1000)] string? ArtworkUrl = null,
    [property: MaxLength(50)] List<TitleTextInput>? Texts = null,
    [property: MaxLength(20)] List<string>? Genres = null,
    [property: MaxLength(50)] List<string>? Tags = null,
    [property: MaxLength(200)] List<CreditInput>? Credits = null,
    [property: MaxLength(300)] List<TitleAgeRating>? AgeRatings = null) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (DefaultLanguage is { } dl && !IsLanguage(dl))
        {
            yield return new ValidationResult($"'{dl}' is not a language tag (BCP 47, e.g. en, fr, pt-BR).", [nameof(DefaultLanguage)]);
        }

        foreach (var (t, i) in (Texts ?? []).Select((t, i) => (t, i)))
        {
            foreach (var r in Nested(t, $"{nameof(Texts)}[{i}]"))
            {
                yield return r;
            }

            if (t?.Language is { } l && !IsLanguage(l))
            {
                yield return new ValidationResult($"'{l}' is not a language tag (BCP 47, e.g. en, fr, pt-BR).", [$"{nameof(Texts)}[{i}].Language"]);
            }
        }

        if ((Texts ?? []).Where(t => t?.Language is not null).GroupBy(t => t.Language.ToLowerInvariant()).Any(g => g.Count() > 1))
        {
            yield return new ValidationResult("Give each language once.", [nameof(Texts)]);
        }

        foreach (var (g, i) in (Genres ?? []).Concat(Tags ?? []).Select((g, i) => (g, i)))
        {
            if (string.IsNullOrWhiteSpace(g) || g.Trim().Length > 100)
            {
                yield return new ValidationResult("Genres and tags are 1 to 100 characters long.", [i < (Genres?.Count ?? 0) ? nameof(Genres) : nameof(Tags)]);
            }
        }

        foreach (var (c, i) in (Credits ?? []).Select((c, i) => (c, i)))
        {
            foreach (var r in Nested(c, $"{nameof(Credits)}[{i}]"))
            {
                yield return r;
            }
        }

        foreach (var (a, i) in (AgeRatings ?? []).Select((a, i) => (a, i)))
        {
            if (a is null || !(a.Territory == TitleAgeRating.AnyTerritory || Territory.IsMatch(a.Territory ?? "")))
            {
                yield return new ValidationResult("An age rating's territory is an ISO 3166-1 alpha-2 code (FR) or * for the default.", [$"{nameof(AgeRatings)}[{i}].Territory"]);
            }
            else if (a.MinimumAge is < 0 or > 21)
            {
                yield return new ValidationResult("A minimum age is from 0 to 21.", [$"{nameof(AgeRatings)}[{i}].MinimumAge"]);
            }
        }

        if ((AgeRatings ?? []).Where(a => a?.Territory is not null).GroupBy(a => a.Territory.ToUpperInvariant()).Any(g => g.Count() > 1))
        {
            yield return new ValidationResult("Give each territory's age rating once.", [nameof(AgeRatings)]);
        }
    }

    internal static bool IsLanguage(string tag) => LanguageTag.IsMatch(tag);

    private static IEnumerable<ValidationResult> Nested(object? item, string prefix)
    {
        if (item is null)
        {
            yield return new ValidationResult("An entry is missing.", [prefix]);
            yield break;
        }

        var results = new List<ValidationResult>();
        Validator.TryValidateObject(item, new ValidationContext(item), results, validateAllProperties: true);
        foreach (var r in results)
        {
            yield return new ValidationResult(r.ErrorMessage, [.. r.MemberNames.Select(m => $"{prefix}.{m}")]);
        }
    }

    private static readonly Regex LanguageTag = LanguageRegex();
    private static readonly Regex Territory = TerritoryRegex();

    [GeneratedRegex("^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")]
    private static partial Regex LanguageRegex();

    [GeneratedRegex("^[A-Za-z]{2}$")]
    private static partial Regex TerritoryRegex();
}

internal sealed record TitleTextView(string Language, string Name, string? Synopsis);

internal sealed record GenreView(string Slug, string Name);

internal sealed record CreditView(Guid PersonId, string Name, CreditRole Role, string? Character);

/// <summary>A title with everything a public page shows of it.</summary>
internal sealed record TitleDetails(
    TitleSummary Title, int? Season, DateOnly? ReleaseDate, bool Exclusive, string DefaultLanguage, long Plays,
    IReadOnlyList<TitleTextView> Texts, IReadOnlyList<GenreView> Genres, IReadOnlyList<string> Tags,
    IReadOnlyList<CreditView> Credits, IReadOnlyList<TitleAgeRating> AgeRatings)
{
    /// <summary>The name and synopsis in <paramref name="language"/> (or its base language), else the default ones.</summary>
    public TitleTextView In(string? language)
    {
        var fallback = new TitleTextView(DefaultLanguage, Title.Name, Title.Synopsis);
        if (string.IsNullOrWhiteSpace(language))
        {
            return fallback;
        }

        var exact = Texts.FirstOrDefault(t => string.Equals(t.Language, language, StringComparison.OrdinalIgnoreCase));
        var baseLanguage = language.Split('-')[0];
        var near = exact ?? Texts.FirstOrDefault(t => string.Equals(t.Language.Split('-')[0], baseLanguage, StringComparison.OrdinalIgnoreCase));
        return near is null ? fallback : near with { Synopsis = near.Synopsis ?? Title.Synopsis };
    }

    public IEnumerable<CreditView> Having(params CreditRole[] roles) => Credits.Where(c => roles.Contains(c.Role));
}

internal abstract record DetailsOutcome
{
    public sealed record Saved(TitleDetails Details) : DetailsOutcome;

    public sealed record NotFound : DetailsOutcome;
}

internal sealed partial class Titles
{
    private IQueryable<Title> WithDetails() => db.Titles
        .Include(t => t.Texts).Include(t => t.Genres).Include(t => t.Tags)
        .Include(t => t.Credits).ThenInclude(c => c.Person).Include(t => t.AgeRatings)
        .AsSplitQuery();

    public async Task<TitleDetails?> DetailsAsync(Guid titleId, CancellationToken cancellationToken) =>
        await WithDetails().AsNoTracking().FirstOrDefaultAsync(t => t.Id == titleId, cancellationToken) is { } t ? ToDetails(t) : null;

    public async Task<TitleDetails?> DetailsBySlugAsync(string slug, CancellationToken cancellationToken) =>
        await WithDetails().AsNoTracking().FirstOrDefaultAsync(t => t.Slug == slug, cancellationToken) is { } t ? ToDetails(t) : null;

    /// <summary>Titles of one genre (by its slug), newest first.</summary>
    public async Task<IReadOnlyList<TitleSummary>> InGenreAsync(string genreSlug, int skip, int take, CancellationToken cancellationToken)
    {
        var rows = await db.Titles.AsNoTracking().Where(t => t.Genres.Any(g => g.Slug == genreSlug))
            .OrderByDescending(t => t.CreatedAt).ThenBy(t => t.Name)
            .Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, 200)).ToListAsync(cancellationToken);
        return [.. rows.Select(t => t.ToSummary())];
    }

    /// <summary>Every genre in use, with how many titles carry it, by name.</summary>
    public async Task<IReadOnlyList<(GenreView Genre, int Titles)>> GenresAsync(CancellationToken cancellationToken)
    {
        var rows = await db.TitleGenres.AsNoTracking().ToListAsync(cancellationToken);
        return [.. rows.GroupBy(g => g.Slug)
            .Select(g => (new GenreView(g.Key, g.First().Name), g.Count()))
            .OrderBy(g => g.Item1.Name, StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>Every title's slug and last change, for the sitemap (at most 50 000, the sitemap protocol's limit).</summary>
    public async Task<IReadOnlyList<(string Slug, DateTimeOffset Changed)>> SitemapAsync(CancellationToken cancellationToken)
    {
        var rows = await db.Titles.AsNoTracking().OrderBy(t => t.Slug).Take(50_000)
            .Select(t => new { t.Slug, t.ChangedTicks, t.CreatedAt }).ToListAsync(cancellationToken);
        return [.. rows.Select(r => (r.Slug, r.ChangedTicks > 0 ? new DateTimeOffset(r.ChangedTicks, TimeSpan.Zero) : r.CreatedAt))];
    }

    public async Task<IReadOnlyList<TitleAgeRating>> AgeRatingsAsync(Guid titleId, CancellationToken cancellationToken)
    {
        var rows = await db.AgeRatings.AsNoTracking().Where(a => a.TitleId == titleId).ToListAsync(cancellationToken);
        return [.. rows.OrderBy(a => a.Territory, StringComparer.Ordinal).Select(a => new TitleAgeRating(a.Territory, a.MinimumAge))];
    }

    public async Task<int?> MinimumAgeAsync(Guid titleId, string? territory, CancellationToken cancellationToken)
    {
        var ratings = await AgeRatingsAsync(titleId, cancellationToken);
        var code = territory?.Trim().ToUpperInvariant();
        return (ratings.FirstOrDefault(r => r.Territory == code) ?? ratings.FirstOrDefault(r => r.Territory == TitleAgeRating.AnyTerritory))?.MinimumAge;
    }

    /// <summary>Replaces a title's details (audited; <see cref="TitleUpdated"/> published in the same transaction).</summary>
    public async Task<DetailsOutcome> SetDetailsAsync(Guid titleId, TitleDetailsInput input, RequestActor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(actor);
        var title = await WithDetails().FirstOrDefaultAsync(t => t.Id == titleId, cancellationToken);
        if (title is null)
        {
            return new DetailsOutcome.NotFound();
        }

        var now = time.GetUtcNow();
        title.DefaultLanguage = string.IsNullOrWhiteSpace(input.DefaultLanguage) ? title.DefaultLanguage : input.DefaultLanguage.Trim();
        title.Season = input.Season;
        title.ReleaseDate = input.ReleaseDate;
        title.Exclusive = input.Exclusive;
        title.ArtworkUrl = string.IsNullOrWhiteSpace(input.ArtworkUrl) ? null : input.ArtworkUrl.Trim();
        title.ChangedTicks = now.UtcTicks;

        db.TitleTexts.RemoveRange(title.Texts);
        title.Texts.Clear();
        foreach (var t in input.Texts ?? [])
        {
            var name = t.Name.Trim();
            var synopsis = string.IsNullOrWhiteSpace(t.Synopsis) ? null : t.Synopsis.Trim();
            if (string.Equals(t.Language.Trim(), title.DefaultLanguage, StringComparison.OrdinalIgnoreCase))
            {
                title.Name = name;
                title.Synopsis = synopsis ?? title.Synopsis;
            }
            else
            {
                title.Texts.Add(new TitleText { TitleId = title.Id, Language = t.Language.Trim(), Name = name, Synopsis = synopsis });
            }
        }

        db.TitleGenres.RemoveRange(title.Genres);
        title.Genres.Clear();
        foreach (var g in (input.Genres ?? []).Select(g => g.Trim()).DistinctBy(Slugify))
        {
            title.Genres.Add(new TitleGenre { TitleId = title.Id, Slug = Slugify(g), Name = g });
        }

        db.TitleTags.RemoveRange(title.Tags);
        title.Tags.Clear();
        foreach (var tag in (input.Tags ?? []).Select(t => t.Trim().ToLowerInvariant()).Distinct(StringComparer.Ordinal))
        {
            title.Tags.Add(new TitleTag { TitleId = title.Id, Tag = tag });
        }

        db.Credits.RemoveRange(title.Credits);
        title.Credits.Clear();
        var names = (input.Credits ?? []).Select(c => c.Name.Trim()).Distinct(StringComparer.Ordinal).ToList();
        var people = await db.People.Where(p => names.Contains(p.Name)).ToDictionaryAsync(p => p.Name, StringComparer.Ordinal, cancellationToken);
        foreach (var (c, position) in (input.Credits ?? []).Select((c, i) => (c, i)))
        {
            var name = c.Name.Trim();
            if (!people.TryGetValue(name, out var person))
            {
                person = new Person { Id = Guid.CreateVersion7(now), Name = name };
                db.People.Add(person);
                people[name] = person;
            }

            var credit = new Credit
            {
                Id = Guid.CreateVersion7(now), TitleId = title.Id, PersonId = person.Id, Person = person, Role = c.Role!.Value,
                Character = string.IsNullOrWhiteSpace(c.Character) ? null : c.Character.Trim(), Position = position,
            };
            db.Credits.Add(credit); // added, not attached: its key is already set
            title.Credits.Add(credit);
        }

        db.AgeRatings.RemoveRange(title.AgeRatings);
        title.AgeRatings.Clear();
        foreach (var a in input.AgeRatings ?? [])
        {
            title.AgeRatings.Add(new AgeRating { TitleId = title.Id, Territory = a.Territory.ToUpperInvariant(), MinimumAge = a.MinimumAge });
        }

        db.Publish(new TitleUpdated(title.Id, title.Slug, title.Name));
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, "catalog.title-updated", $"title:{title.Id}", actor.From,
            $"{title.Name}: {title.Texts.Count} translation(s), {title.Genres.Count} genre(s), {title.Tags.Count} tag(s), {title.Credits.Count} credit(s), {title.AgeRatings.Count} age rating(s)"), now));
        await db.SaveChangesAsync(cancellationToken);
        await search.IndexAsync([title.Id], cancellationToken);
        return new DetailsOutcome.Saved(ToDetails(title));
    }

    /// <summary>Counts a playback session started; the search index picks the new popularity up on its next catch-up.</summary>
    public async Task CountPlayAsync(Guid titleId, CancellationToken cancellationToken)
    {
        var title = await db.Titles.FirstOrDefaultAsync(t => t.Id == titleId, cancellationToken);
        if (title is not null)
        {
            title.Plays++;
            title.ChangedTicks = time.GetUtcNow().UtcTicks;
        }
    }

    internal static TitleDetails ToDetails(Title t) => new(
        t.ToSummary(), t.Season, t.ReleaseDate, t.Exclusive, t.DefaultLanguage, t.Plays,
        [.. t.Texts.OrderBy(x => x.Language, StringComparer.Ordinal).Select(x => new TitleTextView(x.Language, x.Name, x.Synopsis))],
        [.. t.Genres.OrderBy(g => g.Name, StringComparer.OrdinalIgnoreCase).Select(g => new GenreView(g.Slug, g.Name))],
        [.. t.Tags.Select(x => x.Tag).Order(StringComparer.Ordinal)],
        [.. t.Credits.OrderBy(c => c.Position).Select(c => new CreditView(c.PersonId, c.Person?.Name ?? "", c.Role, c.Character))],
        [.. t.AgeRatings.OrderBy(a => a.Territory, StringComparer.Ordinal).Select(a => new TitleAgeRating(a.Territory, a.MinimumAge))]);
}
