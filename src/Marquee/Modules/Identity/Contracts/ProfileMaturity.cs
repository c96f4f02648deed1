using System.Security.Claims;

namespace Marquee.Identity.Contracts;

/// <summary>
/// The active household profile's maturity limit, for browse and search to hide what the profile may not watch (the
/// same limit the playback policy enforces). Read from the profile as stored now, not from the cookie's copy, so that
/// an edited limit applies at once.
/// </summary>
public interface IProfileMaturity
{
    /// <summary>
    /// The highest minimum age the signed-in viewer's active profile may watch; null when nothing limits it (anonymous,
    /// no profile picked, or a profile without a limit).
    /// </summary>
    Task<int?> LimitAsync(ClaimsPrincipal user, CancellationToken cancellationToken);
}
