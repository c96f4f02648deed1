using System.Security.Claims;
using Marquee.Identity.Contracts;
using Marquee.Identity.Data;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace Marquee.Identity;

/// <summary>
/// Sessions and devices: every sign-in records a <see cref="DeviceSession"/> and names it in the session cookie
/// (claim <see cref="IdentityClaims.Session"/>); every request checks that the session is not revoked (cached for a few
/// seconds; a revocation on this node drops the cache entry, so the cookie stops working at once).
/// </summary>
internal sealed class DeviceSessions(IdentityDb db, IMemoryCache cache, IHttpContextAccessor http, IServiceProvider services, TimeProvider clock)
{
    /// <summary>How long a session's "still live" answer is cached (also how often its last-seen time is written).</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);

    /// <summary>Records a new session for this sign-in (from the current request's client) and returns its id.</summary>
    public async Task<Guid> CreateAsync(Guid accountId, string? method)
    {
        var now = clock.GetUtcNow();
        var context = http.HttpContext;
        var session = new DeviceSession
        {
            Id = Guid.CreateVersion7(now),
            AccountId = accountId,
            UserAgent = Summarise(context?.Request.Headers.UserAgent.ToString()),
            Ip = context?.Connection.RemoteIpAddress is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString() : null,
            Country = services.GetService<IClientCountry>()?.Current(),
            Method = method,
            CreatedAt = now,
            LastSeenAt = now,
        };
        db.Sessions.Add(session);
        await db.SaveChangesAsync();
        return session.Id;
    }

    /// <summary>True when the session exists for this account and is not revoked; refreshes its last-seen time now and then.</summary>
    public async Task<bool> IsLiveAsync(Guid sessionId, Guid accountId)
    {
        if (cache.TryGetValue(Key(sessionId), out bool live))
        {
            return live;
        }

        var now = clock.GetUtcNow();
        live = await db.Sessions
            .Where(s => s.Id == sessionId && s.AccountId == accountId && s.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.LastSeenAt, now)) == 1;
        cache.Set(Key(sessionId), live, CacheFor);
        return live;
    }

    public async Task<List<DeviceSession>> ListAsync(Guid accountId, CancellationToken cancellationToken) =>
        (await db.Sessions.AsNoTracking().Where(s => s.AccountId == accountId && s.RevokedAt == null).ToListAsync(cancellationToken))
        .OrderByDescending(s => s.LastSeenAt).ToList();

    /// <summary>Revokes one session of the account (false when it has no such live session).</summary>
    public async Task<bool> RevokeAsync(Guid accountId, Guid sessionId, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var done = await db.Sessions
            .Where(s => s.Id == sessionId && s.AccountId == accountId && s.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), cancellationToken);
        cache.Remove(Key(sessionId));
        return done == 1;
    }

    /// <summary>Revokes every session of the account but <paramref name="keep"/> (all of them when null); how many.</summary>
    public async Task<int> RevokeAllAsync(Guid accountId, Guid? keep, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var ids = await db.Sessions.Where(s => s.AccountId == accountId && s.RevokedAt == null && s.Id != keep).Select(s => s.Id).ToListAsync(cancellationToken);
        var done = await db.Sessions
            .Where(s => ids.Contains(s.Id))
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), cancellationToken);
        ids.ForEach(id => cache.Remove(Key(id)));
        return done;
    }

    public static Guid? Current(ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(IdentityClaims.Session), out var id) ? id : null;

    /// <summary>"Chrome on Linux", "Firefox on Windows", "curl"... from a user agent string (enough to recognise a device).</summary>
    internal static string? Summarise(string? userAgent)
    {
        if (string.IsNullOrWhiteSpace(userAgent))
        {
            return null;
        }

        bool Has(string s) => userAgent.Contains(s, StringComparison.OrdinalIgnoreCase);
        var browser = Has("Edg/") ? "Edge" : Has("OPR/") ? "Opera" : Has("Firefox/") ? "Firefox" : Has("Chrome/") || Has("Chromium/") ? "Chrome"
            : Has("Safari/") ? "Safari" : Has("curl/") ? "curl" : null;
        var os = Has("Android") ? "Android" : Has("iPhone") || Has("iPad") ? "iOS" : Has("Windows") ? "Windows" : Has("Mac OS X") || Has("Macintosh") ? "macOS"
            : Has("CrOS") ? "ChromeOS" : Has("Linux") ? "Linux" : null;
        var summary = (browser, os) switch
        {
            (null, null) => userAgent.Split(' ', 2)[0],
            (null, { } o) => o,
            ({ } b, null) => b,
            ({ } b, { } o) => $"{b} on {o}",
        };
        return summary.Length > 120 ? summary[..120] : summary;
    }

    private static string Key(Guid id) => "identity-session:" + id.ToString("N");

    /// <summary>Hooks into the session cookie: a session row at each sign-in, a check on each request, claims kept on refresh.</summary>
    internal static void Configure(CookieAuthenticationOptions o)
    {
        var validate = o.Events.OnValidatePrincipal;
        o.Events.OnValidatePrincipal = async ctx =>
        {
            await validate(ctx);
            if (ctx.Principal is not { } principal)
            {
                return;
            }

            if (Current(principal) is not { } sid
                || !Guid.TryParse(principal.FindFirstValue(ClaimTypes.NameIdentifier), out var account)
                || !await ctx.HttpContext.RequestServices.GetRequiredService<DeviceSessions>().IsLiveAsync(sid, account))
            {
                ctx.RejectPrincipal();
                await ctx.HttpContext.SignOutAsync(IdentityConstants.ApplicationScheme);
            }
        };
        // Signing out ends the session on the server too (it was only the browser's cookie that was cleared): a copy of
        // the cookie no longer works (R31, ASVS 7.4.1). The account's other sessions go on.
        var signingOut = o.Events.OnSigningOut;
        o.Events.OnSigningOut = async ctx =>
        {
            await signingOut(ctx);
            var user = ctx.HttpContext.User;
            if (Current(user) is { } sid && Guid.TryParse(user.FindFirstValue(ClaimTypes.NameIdentifier), out var account))
            {
                await ctx.HttpContext.RequestServices.GetRequiredService<DeviceSessions>().RevokeAsync(account, sid, ctx.HttpContext.RequestAborted);
            }
        };
        var signingIn = o.Events.OnSigningIn;
        o.Events.OnSigningIn = async ctx =>
        {
            await signingIn(ctx);
            if (ctx.Principal?.Identity is not ClaimsIdentity identity || identity.HasClaim(c => c.Type == IdentityClaims.Session)
                || !Guid.TryParse(ctx.Principal.FindFirstValue(ClaimTypes.NameIdentifier), out var account))
            {
                return;
            }

            // A refresh of the same account's cookie (after a password or MFA change) keeps its session and profile.
            var current = ctx.HttpContext.User;
            if (current.FindFirstValue(ClaimTypes.NameIdentifier) == account.ToString() && Current(current) is { } existing)
            {
                identity.AddClaim(new Claim(IdentityClaims.Session, existing.ToString()));
                CopyProfile(current, identity);
                return;
            }

            var sessions = ctx.HttpContext.RequestServices.GetRequiredService<DeviceSessions>();
            var id = await sessions.CreateAsync(account, ctx.Principal.FindFirstValue("amr"));
            identity.AddClaim(new Claim(IdentityClaims.Session, id.ToString()));
        };
    }

    /// <summary>The security stamp check rebuilds the principal every so often: it keeps the session and profile claims.</summary>
    internal static void Configure(SecurityStampValidatorOptions o)
    {
        var refreshing = o.OnRefreshingPrincipal;
        o.OnRefreshingPrincipal = async ctx =>
        {
            if (refreshing is not null)
            {
                await refreshing(ctx);
            }

            if (ctx.NewPrincipal?.Identity is ClaimsIdentity identity && ctx.CurrentPrincipal is { } current)
            {
                foreach (var type in new[] { IdentityClaims.Session, "amr" })
                {
                    if (current.FindFirst(type) is { } claim && !identity.HasClaim(c => c.Type == type))
                    {
                        identity.AddClaim(new Claim(type, claim.Value));
                    }
                }

                CopyProfile(current, identity);
            }
        };
    }

    internal static void CopyProfile(ClaimsPrincipal from, ClaimsIdentity to)
    {
        foreach (var type in new[] { IdentityClaims.Profile, IdentityClaims.MaturityLimit })
        {
            if (from.FindFirst(type) is { } claim && !to.HasClaim(c => c.Type == type))
            {
                to.AddClaim(new Claim(type, claim.Value));
            }
        }
    }
}
