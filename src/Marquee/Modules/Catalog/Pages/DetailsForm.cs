using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Marquee.Catalog.Contracts;

namespace Marquee.Catalog.Pages;

/// <summary>
/// The console's "details" form: lists typed as text (comma-separated genres and tags, one credit or translation per line,
/// <c>*=12, FR=10</c> for age ratings), turned into a <see cref="TitleDetailsInput"/> that the API's rules then check.
/// </summary>
internal sealed class DetailsForm
{
    [StringLength(20)]
    public string? DefaultLanguage { get; set; }

    [Range(1, 1000, ErrorMessage = "The season is a whole number from 1 to 1000.")]
    public int? Season { get; set; }

    [RegularExpression(@"^\s*\d{4}-\d{2}-\d{2}\s*$", ErrorMessage = "Write the release date as year-month-day (2010-09-27).")]
    public string? ReleaseDate { get; set; }

    public bool Exclusive { get; set; }

    [StringLength(2000)]
    public string? Genres { get; set; }

    [StringLength(4000)]
    public string? Tags { get; set; }

    [StringLength(20000)]
    public string? Credits { get; set; }

    [StringLength(2000)]
    public string? AgeRatings { get; set; }

    [StringLength(60000)]
    public string? Texts { get; set; }

    public static DetailsForm From(TitleDetails d) => new()
    {
        DefaultLanguage = d.DefaultLanguage,
        Season = d.Season,
        ReleaseDate = d.ReleaseDate?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        Exclusive = d.Exclusive,
        Genres = string.Join(", ", d.Genres.Select(g => g.Name)),
        Tags = string.Join(", ", d.Tags),
        Credits = string.Join("\n", d.Credits.Select(c => c.Character is null ? $"{c.Name} | {c.Role}" : $"{c.Name} | {c.Role} | {c.Character}")),
        AgeRatings = string.Join(", ", d.AgeRatings.Select(a => $"{a.Territory}={a.MinimumAge.ToString(CultureInfo.InvariantCulture)}")),
        Texts = string.Join("\n", d.Texts.Select(t => $"{t.Language} | {t.Name} | {t.Synopsis}")),
    };

    /// <summary>The input, or the messages of the lines that could not be read.</summary>
    public (TitleDetailsInput? Input, List<string> Errors) ToInput(string? artworkUrl)
    {
        var errors = new List<string>();
        var credits = new List<CreditInput>();
        foreach (var line in Lines(Credits))
        {
            var parts = line.Split('|', StringSplitOptions.TrimEntries);
            if (parts.Length is < 2 or > 3 || !Enum.TryParse<CreditRole>(parts[1], ignoreCase: true, out var role) || !Enum.IsDefined(role) || char.IsAsciiDigit(parts[1][0]))
            {
                errors.Add($"Credit “{line}”: write name | role | character, with a role among {string.Join(", ", Enum.GetNames<CreditRole>())}.");
                continue;
            }

            credits.Add(new CreditInput(parts[0], role, parts.Length == 3 ? parts[2] : null));
        }

        var ratings = new List<TitleAgeRating>();
        foreach (var item in Split(AgeRatings))
        {
            var parts = item.Split('=', StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var age))
            {
                errors.Add($"Age rating “{item}”: write territory=age, such as *=12 or FR=10.");
                continue;
            }

            ratings.Add(new TitleAgeRating(parts[0].ToUpperInvariant(), age));
        }

        var texts = new List<TitleTextInput>();
        foreach (var line in Lines(Texts))
        {
            var parts = line.Split('|', 3, StringSplitOptions.TrimEntries);
            if (parts.Length < 2)
            {
                errors.Add($"Translation “{line}”: write language | name | synopsis.");
                continue;
            }

            texts.Add(new TitleTextInput(parts[0], parts[1], parts.Length == 3 && parts[2].Length > 0 ? parts[2] : null));
        }

        DateOnly? released = string.IsNullOrWhiteSpace(ReleaseDate) ? null
            : DateOnly.TryParseExact(ReleaseDate.Trim(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var r) ? r : null;
        if (!string.IsNullOrWhiteSpace(ReleaseDate) && released is null)
        {
            errors.Add("The release date is not a date of the calendar.");
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var input = new TitleDetailsInput(
            string.IsNullOrWhiteSpace(DefaultLanguage) ? null : DefaultLanguage.Trim(), Season, released, Exclusive, artworkUrl,
            texts, [.. Split(Genres)], [.. Split(Tags)], credits, ratings);
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(input, new ValidationContext(input), results, validateAllProperties: true);
        return results.Count > 0 ? (null, [.. results.Select(v => v.ErrorMessage ?? "Invalid.")]) : (input, errors);
    }

    private static IEnumerable<string> Lines(string? text) =>
        (text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static IEnumerable<string> Split(string? text) =>
        (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
