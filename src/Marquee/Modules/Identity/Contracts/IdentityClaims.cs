namespace Marquee.Identity.Contracts;

/// <summary>Claims the Identity module puts in a viewer's session cookie, for other modules to read.</summary>
public static class IdentityClaims
{
    /// <summary>The session (device) id: revoked sessions stop working at once.</summary>
    public const string Session = "marquee:sid";

    /// <summary>The active household profile's id; absent until a profile is picked (then the account id stands for it).</summary>
    public const string Profile = "marquee:profile";

    /// <summary>The active profile's maturity limit (minimum age of titles it may watch); absent when none.</summary>
    public const string MaturityLimit = "marquee:maturity";
}
