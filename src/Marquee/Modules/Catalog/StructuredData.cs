using System.Globalization;
using System.Net;
using System.Text.Json;
using Marquee.Catalog.Contracts;
using Marquee.Components;

namespace Marquee.Catalog;

/// <summary>
/// schema.org JSON-LD for a public title page: a <c>VideoObject</c> for films and episodes (name, description,
/// thumbnailUrl, uploadDate, duration, as search engines require), a <c>MusicRecording</c> for tracks (name, byArtist,
/// duration, inAlbum) and a <c>PodcastEpisode</c> for podcast episodes.
/// </summary>
internal static class StructuredData
{
    /// <summary>The JSON text; System.Text.Json escapes &lt;, &gt; and &amp;, so it is safe inside a script element.</summary>
    public static string For(TitleDetails details, string origin)
    {
        ArgumentNullException.ThrowIfNull(details);
        var t = details.Title;
        var url = $"{origin}/title/{Uri.EscapeDataString(t.Slug)}";
        var description = string.IsNullOrWhiteSpace(t.Synopsis) ? $"{t.Name} on Marquee." : t.Synopsis;
        var image = PosterUrl(t, origin);
        var published = details.ReleaseDate?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var genres = details.Genres.Select(g => g.Name).ToArray();
        var ld = new Dictionary<string, object?>
        {
            ["@context"] = "https://schema.org",
            ["name"] = t.Name,
            ["description"] = description,
            ["url"] = url,
            ["inLanguage"] = details.DefaultLanguage,
        };

        switch (t.Kind)
        {
            case TitleKind.Track:
                ld["@type"] = "MusicRecording";
                ld["byArtist"] = Artists(details, CreditRole.Artist, "MusicGroup", fallback: "Unknown artist");
                ld["inAlbum"] = new Dictionary<string, object?> { ["@type"] = "MusicAlbum", ["name"] = t.Collection ?? t.Name };
                ld["image"] = image;
                break;
            case TitleKind.Podcast:
                ld["@type"] = "PodcastEpisode";
                ld["image"] = image;
                if (t.Collection is { } show)
                {
                    ld["partOfSeries"] = new Dictionary<string, object?> { ["@type"] = "PodcastSeries", ["name"] = show };
                }

                ld["episodeNumber"] = t.Number;
                ld["actor"] = details.Having(CreditRole.Host, CreditRole.Guest).Select(Person).ToArray();
                break;
            default:
                ld["@type"] = "VideoObject";
                ld["thumbnailUrl"] = new[] { image };
                ld["uploadDate"] = Display.MachineMoment(t.CreatedAt);
                ld["embedUrl"] = $"{origin}/watch/{t.Id}";
                ld["director"] = details.Having(CreditRole.Director).Select(Person).ToArray();
                ld["actor"] = details.Having(CreditRole.Actor).Select(Person).ToArray();
                if (t.Kind == TitleKind.Episode && t.Collection is { } series)
                {
                    ld["partOfSeries"] = new Dictionary<string, object?> { ["@type"] = "TVSeries", ["name"] = series };
                    ld["partOfSeason"] = details.Season is { } s ? new Dictionary<string, object?> { ["@type"] = "TVSeason", ["seasonNumber"] = s } : null;
                    ld["episodeNumber"] = t.Number;
                }

                break;
        }

        ld["duration"] = t.Duration is { } d ? Display.IsoDuration(d) : null;
        ld["datePublished"] = published;
        ld["genre"] = genres.Length > 0 ? genres : null;
        ld["keywords"] = details.Tags.Count > 0 ? string.Join(", ", details.Tags) : null;
        if (details.AgeRatings.FirstOrDefault(a => a.Territory == TitleAgeRating.AnyTerritory) is { } rating)
        {
            ld["contentRating"] = $"{rating.MinimumAge.ToString(CultureInfo.InvariantCulture)}+";
        }

        foreach (var key in ld.Where(kv => kv.Value is null || kv.Value is Array { Length: 0 }).Select(kv => kv.Key).ToList())
        {
            ld.Remove(key);
        }

        return JsonSerializer.Serialize(ld);
    }

    /// <summary>The title's artwork, else its generated poster.</summary>
    public static string PosterUrl(TitleSummary title, string origin) =>
        title.ArtworkUrl ?? $"{origin}/posters/{Uri.EscapeDataString(title.Slug)}.svg";

    /// <summary>A plain poster for titles without artwork: the name on the kind's colour.</summary>
    public static string PosterSvg(TitleSummary title)
    {
        var colour = title.Kind switch
        {
            TitleKind.Film => "#7c3aed",
            TitleKind.Episode => "#0e7490",
            TitleKind.Track => "#b45309",
            _ => "#be185d",
        };
        var name = WebUtility.HtmlEncode(title.Name.Length > 40 ? title.Name[..39] + "…" : title.Name);
        var initial = WebUtility.HtmlEncode(Components.Shared.TitleCards.Initial(title.Name));
        return $"""
            <svg xmlns="http://www.w3.org/2000/svg" width="640" height="960" viewBox="0 0 640 960">
              <rect width="640" height="960" fill="{colour}"/>
              <text x="320" y="520" font-family="sans-serif" font-size="360" font-weight="700" fill="#ffffff" fill-opacity="0.85" text-anchor="middle">{initial}</text>
              <text x="320" y="860" font-family="sans-serif" font-size="40" fill="#ffffff" text-anchor="middle">{name}</text>
            </svg>
            """;
    }

    private static object Artists(TitleDetails details, CreditRole role, string type, string fallback)
    {
        var people = details.Having(role).Select(c => new Dictionary<string, object?> { ["@type"] = type, ["name"] = c.Name }).ToArray();
        return people.Length switch
        {
            0 => new Dictionary<string, object?> { ["@type"] = type, ["name"] = fallback },
            1 => people[0],
            _ => people,
        };
    }

    private static Dictionary<string, object?> Person(CreditView c) => new() { ["@type"] = "Person", ["name"] = c.Name };
}
