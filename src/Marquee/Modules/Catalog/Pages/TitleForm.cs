using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Marquee.Catalog.Contracts;

namespace Marquee.Catalog.Pages;

/// <summary>The console's "new title" form as posted: text as typed, checked with messages an operator can act on.</summary>
internal sealed class TitleForm
{
    [Required(ErrorMessage = "Enter the title's name.")]
    [StringLength(300, ErrorMessage = "The name can be at most 300 characters long.")]
    public string? Name { get; set; }

    [Required(ErrorMessage = "Choose what kind of title this is.")]
    public TitleKind? Kind { get; set; }

    [DurationText]
    public string? Duration { get; set; }

    [StringLength(4000, ErrorMessage = "The synopsis can be at most 4000 characters long.")]
    public string? Synopsis { get; set; }

    [StringLength(200, ErrorMessage = "The album or show name can be at most 200 characters long.")]
    public string? Collection { get; set; }

    [Range(1, 100_000, ErrorMessage = "The track or episode number is a whole number from 1 to 100000.")]
    public int? Number { get; set; }

    public NewTitle ToNewTitle() => new(Name!.Trim(), Kind, Synopsis, DurationText.TryParse(Duration, out var d) ? d?.TotalSeconds : null,
        Collection: string.IsNullOrWhiteSpace(Collection) ? null : Collection.Trim(), Number: Number);
}

/// <summary>A duration as an operator types it: minutes (<c>90</c>), <c>m:ss</c> (<c>9:56</c>) or <c>h:mm:ss</c> (<c>1:21:00</c>); empty for unknown.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class DurationTextAttribute : ValidationAttribute
{
    public DurationTextAttribute()
        : base("Write the duration as minutes (90), minutes and seconds (9:56) or hours, minutes and seconds (1:21:00).")
    {
    }

    public override bool IsValid(object? value) => value is null or string && DurationText.TryParse(value as string, out _);
}

internal static class DurationText
{
    private static readonly TimeSpan Longest = TimeSpan.FromHours(100);

    /// <summary>True when <paramref name="text"/> is empty (<paramref name="duration"/> null) or a duration up to 100 hours.</summary>
    public static bool TryParse(string? text, out TimeSpan? duration)
    {
        duration = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        var parts = text.Trim().Split(':');
        if (parts.Length > 3 || parts.Any(p => p.Length == 0 || !p.All(char.IsAsciiDigit) || p.Length > 6))
        {
            return false;
        }

        var numbers = parts.Select(p => long.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        TimeSpan value;
        switch (numbers.Length)
        {
            case 1:
                value = TimeSpan.FromMinutes(numbers[0]);
                break;
            case 2 when numbers[1] < 60:
                value = TimeSpan.FromSeconds((numbers[0] * 60) + numbers[1]);
                break;
            case 3 when numbers[1] < 60 && numbers[2] < 60:
                value = TimeSpan.FromSeconds((numbers[0] * 3600) + (numbers[1] * 60) + numbers[2]);
                break;
            default:
                return false;
        }

        if (value > Longest)
        {
            return false;
        }

        duration = value;
        return true;
    }
}
