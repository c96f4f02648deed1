using System.ComponentModel.DataAnnotations;

namespace Marquee.Identity.Oidc;

/// <summary>The OpenID Connect provider, section <c>Marquee:Identity:Oidc</c>.</summary>
internal sealed class OidcOptions
{
    public const string Section = "Marquee:Identity:Oidc";

    /// <summary>
    /// PKCS#12 (.pfx) certificate whose key signs identity and access tokens (RS256). Without it, OpenIddict's
    /// development certificate is used (created in the user's certificate store): fine for development and tests,
    /// not for production (see docs/operations.md).
    /// </summary>
    public string? SigningCertificatePath { get; set; }

    public string? SigningCertificatePassword { get; set; }

    /// <summary>PKCS#12 certificate whose key encrypts access tokens, codes and refresh tokens (RSA-OAEP). As above.</summary>
    public string? EncryptionCertificatePath { get; set; }

    public string? EncryptionCertificatePassword { get; set; }

    /// <summary>Allow the endpoints over plain HTTP (development and tests on loopback only). Default false: HTTPS required.</summary>
    public bool AllowHttp { get; set; }

    /// <summary>How long an authorization code works (at most 10 minutes).</summary>
    [Range(typeof(TimeSpan), "00:00:10", "00:10:00")]
    public TimeSpan AuthorizationCodeLifetime { get; set; } = TimeSpan.FromMinutes(5);

    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromHours(1);

    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long a device code (and its user code) works.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "00:30:00")]
    public TimeSpan DeviceCodeLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The least time between two polls of the token endpoint with one device code; faster polls get <c>slow_down</c>.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:01:00")]
    public TimeSpan DevicePollInterval { get; set; } = TimeSpan.FromSeconds(5);
}
