using System.Globalization;

namespace Marquee.Components;

/// <summary>How pages write durations and moments: plainly, the same way everywhere, whatever the server's culture.</summary>
public static class Display
{
    private static readonly CultureInfo English = CultureInfo.GetCultureInfo("en-GB");

    /// <summary>"1 h 21 min", "9 min 56 s", "45 s"; an em dash when unknown.</summary>
    public static string Duration(TimeSpan? duration)
    {
        if (duration is not { } d || d < TimeSpan.Zero)
        {
            return "—";
        }

        var total = (long)Math.Round(d.TotalSeconds);
        var hours = total / 3600;
        var minutes = total % 3600 / 60;
        var seconds = total % 60;
        return hours > 0 ? string.Create(English, $"{hours} h {minutes} min")
            : minutes > 0 ? (seconds > 0 ? string.Create(English, $"{minutes} min {seconds} s") : string.Create(English, $"{minutes} min"))
            : string.Create(English, $"{seconds} s");
    }

    /// <summary>A machine-readable duration for <c>&lt;time datetime&gt;</c>, e.g. <c>PT9M56S</c>.</summary>
    public static string IsoDuration(TimeSpan duration) =>
        System.Xml.XmlConvert.ToString(TimeSpan.FromSeconds(Math.Round(duration.TotalSeconds)));

    /// <summary>A calendar date for readers: "25 November 2026".</summary>
    public static string Date(DateTimeOffset moment) => moment.UtcDateTime.ToString("d MMMM yyyy", English);

    /// <summary>A moment for operators, in UTC to the second: "2026-11-25 17:48:22 UTC".</summary>
    public static string Moment(DateTimeOffset moment) => moment.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>The same moment for <c>&lt;time datetime&gt;</c>.</summary>
    public static string MachineMoment(DateTimeOffset moment) => moment.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
