namespace Marquee.Identity;

/// <summary>Return addresses after sign-in: only paths on this site, never another host (no open redirect).</summary>
internal static class LocalUrl
{
    public static string Or(string? url, string fallback) =>
        url is { Length: > 0 } u && u.StartsWith('/') && !u.StartsWith("//", StringComparison.Ordinal) && !u.StartsWith("/\\", StringComparison.Ordinal)
            ? u
            : fallback;
}
