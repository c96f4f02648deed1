namespace Marquee.Identity;

/// <summary>
/// A return address only when it stays on this site: a path starting with one <c>/</c>, not <c>//</c> or <c>/\</c>, and
/// without control characters or whitespace (browsers drop tabs and newlines from URLs, so <c>/&#9;/evil.example</c>
/// would become <c>//evil.example</c>: another site). The same rule as ASP.NET Core's <c>IsLocalUrl</c>.
/// </summary>
internal static class LocalUrl
{
    public static string Or(string? url, string fallback) =>
        url is { Length: > 0 } u && u.StartsWith('/') && !u.StartsWith("//", StringComparison.Ordinal) && !u.StartsWith("/\\", StringComparison.Ordinal)
        && !u.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))
            ? u
            : fallback;
}
