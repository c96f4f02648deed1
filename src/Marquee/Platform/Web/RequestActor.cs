using System.Net;

namespace Marquee.Platform.Web;

/// <summary>Who is acting and from where, for the audit log.</summary>
public sealed record RequestActor(string Name, string? From)
{
    public static readonly RequestActor System = new("system", null);

    public static RequestActor Of(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var from = http.Connection.RemoteIpAddress is { } ip ? Normalize(ip).ToString() : null;
        var name = http.User.Identity is { IsAuthenticated: true, Name: { } n } ? n : "anonymous";
        return new RequestActor(name, from);
    }

    /// <summary>
    /// True when the request was made on this machine (the metrics scrape allows it; it makes nobody an operator). After the forwarded-headers middleware, a request relayed
    /// by a trusted proxy carries the client's address, so a remote client behind a local proxy is not local.
    /// A request that still carries forwarding headers was relayed for someone else by a proxy that is not
    /// configured as trusted (for example nginx on the same machine): it is not local either.
    /// </summary>
    public static bool IsLocal(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var remote = http.Connection.RemoteIpAddress;
        var headers = http.Request.Headers;
        var relayed = headers.ContainsKey("X-Forwarded-For") || headers.ContainsKey("Forwarded") || headers.ContainsKey("X-Real-IP");
        return remote is not null && IPAddress.IsLoopback(Normalize(remote)) && !relayed;
    }

    private static IPAddress Normalize(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;
}
