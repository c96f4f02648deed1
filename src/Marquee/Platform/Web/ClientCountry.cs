using System.Net;
using System.Net.Sockets;
using MaxMind.Db;
using Microsoft.Extensions.Options;

namespace Marquee.Platform.Web;

/// <summary>Bound from <c>Marquee:Country</c>: where a request's country comes from.</summary>
public sealed class CountryOptions
{
    public const string Section = "Marquee:Country";

    /// <summary>
    /// The IP-to-country database (MaxMind DB format). Default: the CC0 <c>geo-whois-asn-country</c> database that the
    /// build installs from npm into <c>geoip/</c> beside the program.
    /// </summary>
    public string? Database { get; set; }

    /// <summary>
    /// A request header carrying the viewer's ISO 3166-1 alpha-2 country, believed only when the request comes straight
    /// from a configured proxy (<c>Marquee:Web:KnownProxies</c>/<c>KnownNetworks</c>), e.g. a CDN's country header.
    /// </summary>
    public string Header { get; set; } = "X-Marquee-Country";

    public string DatabasePath => Database is { Length: > 0 } d
        ? Path.GetFullPath(d)
        : Path.Combine(AppContext.BaseDirectory, "geoip", "geo-whois-asn-country.mmdb");
}

/// <summary>The country a request comes from, for licences (territories) and anything else that needs it.</summary>
public interface IClientCountry
{
    /// <summary>
    /// ISO 3166-1 alpha-2 country (upper case) of the current HTTP request's client, or null when unknown: no request,
    /// a loopback or private address, an address the database does not know, or no database.
    /// </summary>
    string? Current();

    /// <summary>The country of a request's client (see <see cref="Current"/>).</summary>
    string? Of(HttpContext http);

    /// <summary>The country an address is registered in according to the database, or null.</summary>
    string? Lookup(IPAddress address);
}

/// <summary>The address that opened the connection, kept before the forwarded-headers middleware replaces it.</summary>
internal sealed record ConnectionPeer(IPAddress? Address);

/// <summary>
/// Country of a client: the trusted header when the connection comes from a configured proxy, otherwise the client
/// address (after forwarded headers from configured proxies) looked up in the IP-to-country database.
/// </summary>
internal sealed partial class ClientCountry : IClientCountry, IDisposable
{
    private readonly IHttpContextAccessor accessor;
    private readonly CountryOptions options;
    private readonly WebOptions web;
    private readonly Lazy<Reader?> reader;

    public ClientCountry(IHttpContextAccessor accessor, IOptions<CountryOptions> options, IOptions<WebOptions> web, ILogger<ClientCountry> logger)
    {
        this.accessor = accessor;
        this.options = options.Value;
        this.web = web.Value;
        reader = new Lazy<Reader?>(() => Open(this.options.DatabasePath, logger));
    }

    public string? Current() => accessor.HttpContext is { } http ? Of(http) : null;

    public string? Of(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var peer = http.Features.Get<ConnectionPeer>()?.Address ?? http.Connection.RemoteIpAddress;
        if (peer is not null && IsKnownProxy(Normalize(peer)) && Code(http.Request.Headers[options.Header].ToString()) is { } trusted)
        {
            return trusted;
        }

        return http.Connection.RemoteIpAddress is { } client ? Lookup(client) : null;
    }

    public string? Lookup(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        address = Normalize(address);
        if (IsLocalOrPrivate(address) || reader.Value is not { } db)
        {
            return null;
        }

        var record = db.Find<Dictionary<string, object>>(address);
        return record is not null && record.TryGetValue("country_code", out var code) ? Code(code as string) : null;
    }

    public void Dispose()
    {
        if (reader.IsValueCreated)
        {
            reader.Value?.Dispose();
        }
    }

    /// <summary>Two ASCII letters, upper-cased; anything else is no country.</summary>
    internal static string? Code(string? text) =>
        text is { Length: 2 } && char.IsAsciiLetter(text[0]) && char.IsAsciiLetter(text[1]) ? text.ToUpperInvariant() : null;

    private bool IsKnownProxy(IPAddress peer) =>
        web.KnownProxies.Any(p => IPAddress.TryParse(p, out var ip) && Normalize(ip).Equals(peer))
        || web.KnownNetworks.Any(n => System.Net.IPNetwork.TryParse(n, out var net) && net.Contains(peer));

    /// <summary>Loopback, private (RFC 1918, unique local), link-local and unspecified addresses belong to no country.</summary>
    internal static bool IsLocalOrPrivate(IPAddress ip)
    {
        if (IPAddress.IsLoopback(ip) || ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
        {
            return true;
        }

        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = ip.GetAddressBytes();
            return b[0] == 10 || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168)
                   || (b[0] == 169 && b[1] == 254) || (b[0] == 100 && b[1] >= 64 && b[1] <= 127);
        }

        return ip.IsIPv6LinkLocal || ip.IsIPv6SiteLocal || ip.IsIPv6UniqueLocal;
    }

    private static IPAddress Normalize(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;

    private static Reader? Open(string path, ILogger logger)
    {
        if (!File.Exists(path))
        {
            Log.NoDatabase(logger, path);
            return null;
        }

        return new Reader(path, FileAccessMode.Memory);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "No IP-to-country database at {Path}: every viewer's country is unknown (set Marquee:Country:Database).")]
        public static partial void NoDatabase(ILogger logger, string path);
    }
}

public static class ClientCountryRegistration
{
    /// <summary>
    /// Registers <see cref="IClientCountry"/>, and a first middleware (a startup filter, so before the forwarded-headers
    /// middleware) that keeps the address the connection came from, to decide whether the country header is believed.
    /// </summary>
    public static IServiceCollection AddClientCountry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CountryOptions>().Bind(configuration.GetSection(CountryOptions.Section));
        services.AddSingleton<ClientCountry>();
        services.AddSingleton<IClientCountry>(sp => sp.GetRequiredService<ClientCountry>());
        services.AddTransient<IStartupFilter, ConnectionPeerStartupFilter>();
        return services;
    }
}

internal sealed class ConnectionPeerStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((http, nextMiddleware) =>
        {
            http.Features.Set(new ConnectionPeer(http.Connection.RemoteIpAddress));
            return nextMiddleware(http);
        });
        next(app);
    };
}
