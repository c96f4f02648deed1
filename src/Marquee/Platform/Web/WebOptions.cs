using System.ComponentModel.DataAnnotations;
using System.Net;

namespace Marquee.Platform.Web;

/// <summary>Bound from <c>Marquee:Web</c>.</summary>
public sealed class WebOptions : IValidatableObject
{
    public const string Section = "Marquee:Web";

    /// <summary>Addresses of reverse proxies whose X-Forwarded-For/-Proto headers are believed. Nobody else's are.</summary>
    public List<string> KnownProxies { get; set; } = [];

    /// <summary>Networks (CIDR, e.g. 10.0.0.0/8) of reverse proxies whose forwarded headers are believed.</summary>
    public List<string> KnownNetworks { get; set; } = [];

    /// <summary>Addresses allowed to scrape <c>/metrics</c> in Production besides operators.</summary>
    public List<string> ScrapeAddresses { get; set; } = [];

    /// <summary>Send Strict-Transport-Security on HTTPS responses.</summary>
    public bool Hsts { get; set; } = true;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var p in KnownProxies.Where(p => !IPAddress.TryParse(p, out _)))
        {
            yield return new ValidationResult($"Marquee:Web:KnownProxies: '{p}' is not an IP address.");
        }

        foreach (var n in KnownNetworks.Where(n => !System.Net.IPNetwork.TryParse(n, out _)))
        {
            yield return new ValidationResult($"Marquee:Web:KnownNetworks: '{n}' is not a network in CIDR form (e.g. 10.0.0.0/8).");
        }

        foreach (var a in ScrapeAddresses.Where(a => !IPAddress.TryParse(a, out _)))
        {
            yield return new ValidationResult($"Marquee:Web:ScrapeAddresses: '{a}' is not an IP address.");
        }
    }
}
