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

        foreach (var o in AllowedOrigins.Where(o => o != "*" && !(Uri.TryCreate(o, UriKind.Absolute, out var u) && u.AbsolutePath == "/" && string.IsNullOrEmpty(u.Query))))
        {
            yield return new ValidationResult($"Marquee:Delivery:AllowedOrigins: '{o}' is not an origin (scheme://host[:port]) or '*'.");
        }
    }
}
