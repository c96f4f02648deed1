using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Marquee.Platform.Web;

/// <summary>Bound from <c>Marquee:Outbound</c>: what the SSRF guard of <see cref="OutboundHttp"/> lets through.</summary>
public sealed class OutboundOptions : IValidatableObject
{
    public const string Section = "Marquee:Outbound";

    /// <summary>
    /// Hosts reached whatever they resolve to (a local identity provider, a mail catcher, a payment stub in development
    /// and tests), as written in the URL: <c>idp.internal</c> (any allowed port) or <c>idp.internal:8443</c>,
    /// <c>127.0.0.1:5001</c> (that port only, which may then be any port). Nothing else may reach a loopback,
    /// link-local, private, shared (CGNAT), multicast or otherwise reserved address.
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>Ports any other host may be reached on: 80 and 443, and those configured here (added to them).</summary>
    public List<int> AllowedPorts { get; set; } = [80, 443];

    /// <summary>How long a connection attempt may take.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var h in AllowedHosts.Where(h => ParseHost(h) is null))
        {
            yield return new ValidationResult($"Marquee:Outbound:AllowedHosts: '{h}' is not a host or host:port.");
        }

        foreach (var p in AllowedPorts.Where(p => p is < 1 or > 65535))
        {
            yield return new ValidationResult($"Marquee:Outbound:AllowedPorts: {p} is not a port.");
        }
    }

    internal static (string Host, int? Port)? ParseHost(string entry)
    {
        entry = entry.Trim();
        if (entry.Length == 0 || entry.Contains('/', StringComparison.Ordinal))
        {
            return null;
        }

        // [::1]:8080, [::1], host:8080, host, 10.0.0.1:80
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return null;
            }

            var host = entry[1..close];
            var rest = entry[(close + 1)..];
            return rest.Length == 0 ? (host, null)
                : rest.StartsWith(':') && int.TryParse(rest[1..], out var bp) && bp is > 0 and <= 65535 ? (host, bp) : null;
        }

        var colon = entry.LastIndexOf(':');
        if (colon > 0 && entry.IndexOf(':', StringComparison.Ordinal) == colon)
        {
            return int.TryParse(entry[(colon + 1)..], out var port) && port is > 0 and <= 65535 ? (entry[..colon], port) : null;
        }

        return (entry, null);
    }
}

/// <summary>An outbound request refused by the SSRF guard (before any packet was sent to the address).</summary>
public sealed class OutboundRefusedException(string message) : IOException(message);

/// <summary>
/// The HTTP handler for every outbound request whose address an operator or user influences (R15): a
/// <see cref="SocketsHttpHandler"/> whose <see cref="SocketsHttpHandler.ConnectCallback"/> checks the scheme, the port and
/// each resolved address at connect time, and connects to the very address it checked (so a DNS answer that changes
/// between check and use, "rebinding", changes nothing). Redirects are followed by the handler itself, each new
/// connection through the same callback, so a redirect to a refused address is refused too.
/// </summary>
public sealed class OutboundHttp(IOptions<OutboundOptions> options)
{
    /// <summary>Resolves a host name (replaceable in tests, which must never query real DNS for private names).</summary>
    internal Func<string, CancellationToken, Task<IPAddress[]>> Resolve { get; init; } = Dns.GetHostAddressesAsync;

    /// <summary>A new guarded handler (one per client; it pools its connections).</summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        ConnectCallback = ConnectAsync,
        AllowAutoRedirect = true,
        MaxAutomaticRedirections = 5,
        ConnectTimeout = options.Value.ConnectTimeout,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        UseProxy = false,
    };

    /// <summary>A new client over a guarded handler.</summary>
    public HttpClient CreateClient() => new(CreateHandler(), disposeHandler: true);

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var port = context.DnsEndPoint.Port;
        var scheme = context.InitialRequestMessage.RequestUri?.Scheme;
        if (scheme is not ("http" or "https"))
        {
            throw new OutboundRefusedException($"Outbound request to {host}:{port} refused: the scheme '{scheme}' is not http or https.");
        }

        var allowed = IsAllowListed(host, port);
        if (!allowed && !options.Value.AllowedPorts.Contains(port))
        {
            throw new OutboundRefusedException($"Outbound request to {host}:{port} refused: port {port} is not in Marquee:Outbound:AllowedPorts.");
        }

        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Resolve(host, cancellationToken);
        if (addresses.Length == 0)
        {
            throw new OutboundRefusedException($"Outbound request to {host}:{port} refused: the name resolves to no address.");
        }

        if (!allowed && addresses.Select(a => (Address: a, Reason: Refusal(a))).FirstOrDefault(x => x.Reason is not null) is { Reason: { } reason } refused)
        {
            // One refused address refuses the name: a host that answers with a public and a private address is not trusted.
            throw new OutboundRefusedException(
                $"Outbound request to {host}:{port} refused: {(host == refused.Address.ToString() ? "it" : $"it resolves to {refused.Address}, which")} is {reason}. " +
                "Hosts that must be reached there (a local fake in development or tests) are named in Marquee:Outbound:AllowedHosts.");
        }

        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last ?? new OutboundRefusedException($"Outbound request to {host}:{port}: no address answered.");
    }

    private bool IsAllowListed(string host, int port) => options.Value.AllowedHosts
        .Select(OutboundOptions.ParseHost)
        .Any(e => e is { } entry && string.Equals(entry.Host, host.Trim('[', ']'), StringComparison.OrdinalIgnoreCase) && (entry.Port is null || entry.Port == port));

    /// <summary>Why an address may not be reached from a user- or operator-given URL; null when it may.</summary>
    public static string? Refusal(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            return Refusal(address.MapToIPv4()) is { } mapped ? $"an IPv4-mapped IPv6 address of {mapped}" : null;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b switch
            {
                [0, ..] => "a 'this network' address (0.0.0.0/8)",
                [127, ..] => "a loopback address",
                [10, ..] => "a private address (10.0.0.0/8)",
                [172, >= 16 and <= 31, ..] => "a private address (172.16.0.0/12)",
                [192, 168, ..] => "a private address (192.168.0.0/16)",
                [169, 254, ..] => "a link-local address (169.254.0.0/16, where cloud metadata services live)",
                [100, >= 64 and <= 127, ..] => "a shared (CGNAT) address (100.64.0.0/10)",
                [192, 0, 0, _] => "an IETF protocol address (192.0.0.0/24)",
                [192, 0, 2, _] or [198, 51, 100, _] or [203, 0, 113, _] => "a documentation address",
                [198, 18 or 19, ..] => "a benchmarking address (198.18.0.0/15)",
                [>= 224 and <= 239, ..] => "a multicast address",
                [>= 240, ..] => "a reserved or broadcast address (240.0.0.0/4)",
                _ => null,
            };
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (IPAddress.IPv6Loopback.Equals(address))
            {
                return "a loopback address";
            }

            if (IPAddress.IPv6Any.Equals(address))
            {
                return "the unspecified address";
            }

            var b = address.GetAddressBytes();
            return b switch
            {
                _ when address.IsIPv6LinkLocal => "a link-local address (fe80::/10)",
                _ when address.IsIPv6SiteLocal => "a site-local address (fec0::/10)",
                _ when address.IsIPv6Multicast => "a multicast address",
                [>= 0xfc and <= 0xfd, ..] => "a unique local (private) address (fc00::/7)",
                [0x20, 0x01, 0x0d, 0xb8, ..] => "a documentation address (2001:db8::/32)",
                // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address: judged by it.
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ..] => Refusal(new IPAddress(b[12..])) is { } v4 ? $"an IPv4-compatible address of {v4}" : null,
                [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, ..] => Refusal(new IPAddress(b[12..])) is { } nat ? $"a NAT64 address of {nat}" : null,
                [0x20, 0x02, ..] => Refusal(new IPAddress(b[2..6])) is { } sixToFour ? $"a 6to4 address of {sixToFour}" : null,
                _ => null,
            };
        }

        return "not an IP address";
    }
}

/// <summary>Registration of <see cref="OutboundHttp"/>.</summary>
public static class OutboundHttpRegistration
{
    public static IServiceCollection AddOutboundHttp(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<OutboundOptions>().Bind(configuration.GetSection(OutboundOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<OutboundHttp>();
        return services;
    }
}
