using System.ComponentModel.DataAnnotations;

namespace Marquee.Delivery;

/// <summary>Bound from <c>Marquee:Delivery</c>.</summary>
internal sealed class DeliveryOptions : IValidatableObject
{
    public const string Section = "Marquee:Delivery";

    /// <summary>A session with no heartbeat for this long is ended (default 90 s).</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// How long a playback token (the manifest, key and segment URLs) stays valid after it is issued or renewed by a
    /// heartbeat (default 6 h). A token also stops working as soon as its session ends.
    /// </summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(6);

    /// <summary>
    /// How long a process may answer playback requests from its in-memory copy of a live session before reading the
    /// session again (default 5 s; 0 reads it on every request). An end, revoke or timeout in the same process takes
    /// effect at once; one in another process (several web nodes) takes effect here within this time.
    /// </summary>
    public TimeSpan SessionCacheLifetime { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Origins (e.g. <c>https://player.example.com</c>) whose players may fetch manifests, keys and segments; default none (same origin only).</summary>
    public List<string> AllowedOrigins { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HeartbeatTimeout <= TimeSpan.Zero)
        {
            yield return new ValidationResult("Marquee:Delivery:HeartbeatTimeout must be positive (e.g. 00:01:30).");
        }

        if (TokenLifetime <= TimeSpan.Zero)
        {
            yield return new ValidationResult("Marquee:Delivery:TokenLifetime must be positive (e.g. 06:00:00).");
        }

        if (SessionCacheLifetime < TimeSpan.Zero || SessionCacheLifetime > TimeSpan.FromMinutes(5))
        {
            yield return new ValidationResult("Marquee:Delivery:SessionCacheLifetime must be between 0 and 5 minutes (e.g. 00:00:05).");
        }

        foreach (var o in AllowedOrigins.Where(o => o != "*" && !(Uri.TryCreate(o, UriKind.Absolute, out var u) && u.AbsolutePath == "/" && string.IsNullOrEmpty(u.Query))))
        {
            yield return new ValidationResult($"Marquee:Delivery:AllowedOrigins: '{o}' is not an origin (scheme://host[:port]) or '*'.");
        }
    }
}
