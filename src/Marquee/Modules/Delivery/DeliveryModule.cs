using System.ComponentModel.DataAnnotations;
using Marquee.Analytics.Contracts;
using Marquee.Delivery.Contracts;
using Marquee.Delivery.Data;
using Marquee.Media.Contracts;
using Marquee.Platform;
using Marquee.Platform.Audit;
using Marquee.Platform.Data;
using Marquee.Platform.Events;
using Marquee.Platform.Privacy;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Marquee.Delivery;

/// <summary>Delivery: playback sessions, signed playback URLs, manifests rewritten per session, content keys and segments.</summary>
public static class DeliveryModule
{
    internal const string MasterRoute = "PlaybackMaster";
    internal const string KeyRoute = "PlaybackKey";
    internal const string HeartbeatRoute = "PlaybackHeartbeat";
    internal const string SessionRoute = "GetPlaybackSession";
    internal const string FileRoute = "PlaybackFile";

    public static IServiceCollection AddDelivery(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DeliveryOptions>().Bind(configuration.GetSection(DeliveryOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddModuleDb<DeliveryDb, SqliteDeliveryDb, PostgresDeliveryDb>(configuration);
        services.AddSingleton<PlaybackTokens>();
        services.AddSingleton<PackageLayouts>();
        services.AddSingleton<LiveSessions>();
        services.AddScoped<PlaybackPolicies>();
        services.AddSingleton<IPlaybackPolicy, SignedInPolicy>();
        services.AddScoped<Sessions>();
        services.AddScoped<IPlaybackSessions>(sp => sp.GetRequiredService<Sessions>());
        services.AddConsoleFigures<DeliveryFigures>();
        services.AddPersonalData<DeliveryPrivacy>();
        services.AddEventHandler<Marquee.Identity.Contracts.AccountDeleted, DeliveryPrivacy>();
        var marquee = configuration.GetSection(MarqueeOptions.Section).Get<MarqueeOptions>() ?? new MarqueeOptions();
        if (marquee.HasRole("worker"))
        {
            services.AddHostedService<SilentSessionSweeper>();
        }

        return services;
    }

    public static RouteGroupBuilder MapDelivery(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("").WithTags("Delivery");

        group.MapPost("/sessions", StartSessionAsync)
            .AllowAnonymous() // every IPlaybackPolicy decides, "signed in" among them; a refusal is a 403 problem with its reason
            .Validate<StartPlayback>()
            .WithName("StartPlayback")
            .WithSummary("Starts a playback session for a title: a manifest URL carrying a signed, expiring token.")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapGet("/sessions/{id:guid}", GetSessionAsync)
            .AllowAnonymous() // the session's own viewer only (checked in the handler)
            .WithName(SessionRoute)
            .WithSummary("A session's state: live or ended (and why), last heartbeat and position.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPost("/sessions/{id:guid}/heartbeat", HeartbeatAsync)
            .AllowAnonymous() // the session's own viewer only (checked in the handler)
            .WithName(HeartbeatRoute)
            .WithSummary("Keeps a session alive (send every 30 s or so) and renews its token.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status410Gone);

        group.MapDelete("/sessions/{id:guid}", StopAsync)
            .AllowAnonymous() // the session's own viewer only (checked in the handler)
            .WithName("StopPlayback")
            .WithSummary("Ends a session (the viewer stopped).")
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPost("/sessions/{id:guid}/end", StopWithBodyAsync)
            .AllowAnonymous() // the session's own viewer only (checked in the handler)
            .WithName("EndPlayback")
            .WithSummary("Ends a session, with the last position (for navigator.sendBeacon when the page closes).")
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPost("/sessions/{id:guid}/revoke", RevokeAsync)
            .RequireAuthorization(Policies.Console)
            .WithName("RevokePlayback")
            .WithSummary("Ends a session at once (operators); its URLs answer 403 from then on.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        // Manifests, keys and segments: the token in the path is the authorisation (players send no cookies to an edge).
        // They are short-circuited: answered by the routing middleware, without the cookie authentication, authorization
        // and antiforgery middleware that follow it (none of which applies to them); the platform's error handling and
        // security headers come before routing and still apply.
        var media = group.MapGroup("/s/{token}").AllowAnonymous().AddEndpointFilter(CorsFilter);
        media.ShortCircuit();
        media.MapGet("/master.m3u8", MasterAsync).WithName(MasterRoute).WithSummary("The session's master playlist, without variants above its height limit.");
        media.MapGet("/key", KeyAsync).WithName(KeyRoute).WithSummary("The content key (16 bytes), for a live session.");
        media.MapGet("/{**path}", FileAsync).WithName(FileRoute).WithSummary("A media playlist (key URIs rewritten), init segment or media segment of the session's package.");
        group.MapMethods("/s/{token}/{**path}", [HttpMethods.Options], Preflight).AllowAnonymous().ExcludeFromDescription();

        // An edge cache in front (deploy/nginx/marquee-edge.conf) asks this, through nginx's auth_request, before it serves
        // a package file from its cache: the token is checked here for every request, cached or not.
        group.MapGet("/edge-auth", EdgeAuthAsync).AllowAnonymous().ShortCircuit()
            .WithSummary("For an edge cache: 204 and the file's cache key (X-Marquee-Object) when the token in X-Original-URI may fetch that package file now; 403 otherwise.");
        return group;
    }

    /// <summary>
    /// For <c>marquee playback-url</c>: starts a session as the operator on this machine whose heartbeat timeout and token
    /// lifetime are both <paramref name="ttl"/>, audits it (<c>delivery.playback-url-issued</c>), and answers the absolute
    /// manifest URL under <paramref name="publicBase"/>, or why there is none.
    /// </summary>
    public static async Task<(Uri? Url, string? Problem)> IssueOperatorUrlAsync(
        IServiceProvider services, Guid titleId, TimeSpan ttl, Uri publicBase, string actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(publicBase);
        await using var scope = services.CreateAsyncScope();
        var sessions = scope.ServiceProvider.GetRequiredService<Sessions>();
        switch (await sessions.StartAsync(Viewer.LocalOperator, titleId, ttl, cancellationToken))
        {
            case StartOutcome.Started s:
                var path = scope.ServiceProvider.GetRequiredService<LinkGenerator>().GetPathByName(MasterRoute, new { token = s.Grant.Token })
                           ?? throw new InvalidOperationException("The playback routes are not mapped (is the web role off?).");
                var url = new Uri(publicBase.ToString().TrimEnd('/') + path);
                await scope.ServiceProvider.GetRequiredService<IAuditLog>().RecordAsync(
                    new AuditRecord(actor, "delivery.playback-url-issued", $"title:{titleId}", null,
                        $"session {s.Grant.SessionId}, expires {s.Grant.ExpiresAt:O}"),
                    cancellationToken);
                return (url, null);
            case StartOutcome.Refused r:
                return (null, $"playback refused: {r.Reason}");
            default:
                return (null, $"title {titleId} has no playable package (not uploaded, still processing, or unknown).");
        }
    }

    private static async Task<Results<Created<SessionStarted>, ProblemHttpResult>> StartSessionAsync(
        StartPlayback input, Sessions sessions, LinkGenerator links, HttpContext http, CancellationToken ct)
    {
        var viewer = Viewer.Of(http);
        var titleId = input.TitleId!.Value;
        return await sessions.StartAsync(viewer, titleId, ttl: null, ct) switch
        {
            StartOutcome.Started s => TypedResults.Created(
                links.GetPathByName(http, SessionRoute, new { id = s.Grant.SessionId }),
                Describe(s.Grant, links, http)),
            StartOutcome.Refused r => TypedResults.Problem(title: "Playback refused", detail: r.Reason, statusCode: StatusCodes.Status403Forbidden),
            _ => TypedResults.Problem(title: "Not playable", detail: $"Title {titleId} has no playable package (not uploaded, still processing, or unknown).", statusCode: StatusCodes.Status404NotFound),
        };
    }

    private static async Task<Results<Ok<SessionState>, ProblemHttpResult>> GetSessionAsync(Guid id, Sessions sessions, HttpContext http, CancellationToken ct)
    {
        var session = await sessions.FindAsync(id, Viewer.Of(http), ct);
        return session is null
            ? TypedResults.Problem(title: "No such session", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(new SessionState(session.Id, session.TitleId, session.EndedAt is null, session.CreatedAt, session.LastHeartbeatAt,
                session.PositionSeconds, session.MaxHeight, session.EndedAt, session.EndReason, session.WithAds));
    }

    private static async Task<Results<Ok<SessionStarted>, ProblemHttpResult>> HeartbeatAsync(
        Guid id, Heartbeat? input, Sessions sessions, LinkGenerator links, HttpContext http, CancellationToken ct)
    {
        var session = await sessions.FindAsync(id, Viewer.Of(http), ct);
        if (session is null)
        {
            return TypedResults.Problem(title: "No such session", statusCode: StatusCodes.Status404NotFound);
        }

        if (session.EndedAt is not null)
        {
            return TypedResults.Problem(title: "Session ended", detail: $"The session has ended ({session.EndReason}); start a new one.", statusCode: StatusCodes.Status410Gone);
        }

        if (input is not null && Validation.Errors(input) is { Count: > 0 } errors)
        {
            return TypedResults.Problem(title: "Invalid heartbeat", detail: string.Join(" ", errors.SelectMany(e => e.Value)), statusCode: StatusCodes.Status400BadRequest);
        }

        var grant = await sessions.HeartbeatAsync(session, input?.Seconds, ct);
        return TypedResults.Ok(Describe(grant, links, http));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> StopAsync(Guid id, double? position, Sessions sessions, HttpContext http, CancellationToken ct)
    {
        var session = await sessions.FindAsync(id, Viewer.Of(http), ct);
        if (session is null)
        {
            return TypedResults.Problem(title: "No such session", statusCode: StatusCodes.Status404NotFound);
        }

        await sessions.EndAsync(session, Sessions.Stopped, position, ct);
        return TypedResults.NoContent();
    }

    private static Task<Results<NoContent, ProblemHttpResult>> StopWithBodyAsync(Guid id, Heartbeat? input, Sessions sessions, HttpContext http, CancellationToken ct) =>
        StopAsync(id, input?.Seconds is { } s && s >= 0 ? s : null, sessions, http, ct);

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(Guid id, Sessions sessions, HttpContext http, CancellationToken ct)
    {
        var session = await sessions.FindAsync(id, owner: null, ct);
        if (session is null)
        {
            return TypedResults.Problem(title: "No such session", statusCode: StatusCodes.Status404NotFound);
        }

        var actor = RequestActor.Of(http);
        await sessions.EndAsync(session, Sessions.Revoked, positionSeconds: null, ct,
            new AuditRecord(actor.Name, "delivery.playback-revoked", $"playback-session:{id}", actor.From, $"title {session.TitleId}, account {session.AccountId}"));
        return TypedResults.NoContent();
    }

    private static async Task<IResult> MasterAsync(string token, LiveSessions sessions, PackageLayouts layouts, LinkGenerator links, HttpContext http, CancellationToken ct)
    {
        if (await sessions.AuthorizeAsync(token, http.RequestServices, ct) is not { } session)
        {
            return Refused();
        }

        if (!File.Exists(Path.Combine(session.PackageRoot, session.MasterPlaylist)))
        {
            return TypedResults.Problem(title: "Package missing", statusCode: StatusCodes.Status404NotFound);
        }

        var layout = layouts.For(session.PackageRoot, session.MasterPlaylist);
        return Playlist(http, layout.RewriteMaster(session.MaxHeight, KeyUrl(links, http, token)));
    }

    private static async Task<IResult> KeyAsync(string token, LiveSessions sessions, HttpContext http, CancellationToken ct)
    {
        if (await sessions.AuthorizeAsync(token, http.RequestServices, ct) is not { } session)
        {
            return Refused();
        }

        var key = await http.RequestServices.GetRequiredService<Sessions>().ContentKeyAsync(session.AssetId, ct);
        if (key is null)
        {
            return TypedResults.Problem(title: "No key", statusCode: StatusCodes.Status404NotFound);
        }

        http.Response.Headers.CacheControl = "private, no-store";
        return TypedResults.Bytes(key, "application/octet-stream");
    }

    private static async Task<IResult> FileAsync(string token, string path, LiveSessions sessions, PackageLayouts layouts, LinkGenerator links, HttpContext http, CancellationToken ct)
    {
        if (await sessions.AuthorizeAsync(token, http.RequestServices, ct) is not { } session)
        {
            return Refused();
        }

        if (!File.Exists(Path.Combine(session.PackageRoot, session.MasterPlaylist)))
        {
            return TypedResults.Problem(title: "Package missing", statusCode: StatusCodes.Status404NotFound);
        }

        var layout = layouts.For(session.PackageRoot, session.MasterPlaylist);
        if (layout.Resolve(path, out var full) is not { } relative || full is null)
        {
            return TypedResults.Problem(title: "Not a file of this package", statusCode: StatusCodes.Status403Forbidden);
        }

        if (layout.RefusedFiles(session.MaxHeight).Contains(relative))
        {
            return TypedResults.Problem(title: "Above this session's height limit", detail: $"This session may play up to {session.MaxHeight}p.", statusCode: StatusCodes.Status403Forbidden);
        }

        if (!File.Exists(full))
        {
            return TypedResults.Problem(title: "No such file", statusCode: StatusCodes.Status404NotFound);
        }

        var extension = Path.GetExtension(full).ToLowerInvariant();
        if (extension == ".m3u8")
        {
            return relative == layout.MasterName
                ? Playlist(http, layout.RewriteMaster(session.MaxHeight, KeyUrl(links, http, token)))
                : Playlist(http, PackageLayout.RewriteMedia(full, KeyUrl(links, http, token)));
        }

        // CTA-5004 CMCD that the player attached (hls.js: the CMCD query parameter): handed to Analytics without waiting.
        RecordCmcd(http, session, http.Request.Query["CMCD"]);

        // Segments never change once published: edges and browsers may keep them.
        http.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
        var contentType = extension switch
        {
            ".m4s" => "video/iso.segment",
            ".mp4" => "video/mp4",
            ".vtt" => "text/vtt",
            _ => "image/jpeg",
        };
        return new SegmentFileResult(full, contentType);
    }

    private static void RecordCmcd(HttpContext http, LiveSession session, Microsoft.Extensions.Primitives.StringValues cmcd)
    {
        if (cmcd.Count > 0)
        {
            http.RequestServices.GetService<IPlaybackTelemetry>()?.Record(new SegmentRequestTelemetry(
                session.Id, session.AccountId, session.TitleId, session.Platform.ToString().ToLowerInvariant(),
                http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow(), cmcd.ToString()));
        }
    }

    /// <summary>The header in which an edge's auth subrequest gets the file's cache key: the package (asset) and the file's path in it, never the token.</summary>
    public const string EdgeObjectHeader = "X-Marquee-Object";

    /// <summary>
    /// For an edge cache (nginx <c>auth_request</c>): the original request's URI arrives in <c>X-Original-URI</c>. The same
    /// checks as <see cref="FileAsync"/> (token signature and expiry, live session, a file of its package, within its height
    /// limit) without reading the file; 204 with <see cref="EdgeObjectHeader"/> = <c>ASSET/relative/path</c> so that the
    /// edge keeps one copy per package file whoever asks, or 403. The player's CMCD is recorded here (the edge asks for
    /// every request, hit or miss; it fetches from the origin without the query, so a miss is not counted twice).
    /// </summary>
    private static async Task<IResult> EdgeAuthAsync(LiveSessions sessions, PackageLayouts layouts, HttpContext http, CancellationToken ct)
    {
        http.Response.Headers.CacheControl = "private, no-store";
        const string Prefix = "/api/playback/s/";
        var original = http.Request.Headers["X-Original-URI"].ToString();
        var queryAt = original.IndexOf('?', StringComparison.Ordinal);
        var pathPart = queryAt < 0 ? original : original[..queryAt];
        var slash = pathPart.StartsWith(Prefix, StringComparison.Ordinal) ? pathPart.IndexOf('/', Prefix.Length) : -1;
        if (slash <= Prefix.Length || slash == pathPart.Length - 1)
        {
            return Refused();
        }

        var token = pathPart[Prefix.Length..slash];
        if (await sessions.AuthorizeAsync(token, http.RequestServices, ct) is not { } session
            || !File.Exists(Path.Combine(session.PackageRoot, session.MasterPlaylist)))
        {
            return Refused();
        }

        var layout = layouts.For(session.PackageRoot, session.MasterPlaylist);
        if (layout.Resolve(Uri.UnescapeDataString(pathPart[(slash + 1)..]), out var full) is not { } relative || full is null
            || layout.RefusedFiles(session.MaxHeight).Contains(relative))
        {
            return Refused();
        }

        if (queryAt >= 0)
        {
            RecordCmcd(http, session, Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(original[queryAt..]).GetValueOrDefault("CMCD"));
        }

        http.Response.Headers[EdgeObjectHeader] = $"{session.AssetId:N}/{relative}";
        return TypedResults.NoContent();
    }

    private static IResult Preflight(HttpContext http)
    {
        // CORS headers (if the origin is allowed) are added by the same rule as for GET.
        ApplyCors(http);
        if (http.Response.Headers.AccessControlAllowOrigin.Count > 0)
        {
            http.Response.Headers.AccessControlAllowMethods = "GET, OPTIONS";
            http.Response.Headers.AccessControlAllowHeaders = "Range";
            http.Response.Headers.AccessControlMaxAge = "600";
        }

        return TypedResults.NoContent();
    }

    private static async ValueTask<object?> CorsFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ApplyCors(context.HttpContext);
        return await next(context);
    }

    /// <summary>Players on the configured origins (<c>Marquee:Delivery:AllowedOrigins</c>) may read; by default only the same origin.</summary>
    private static void ApplyCors(HttpContext http)
    {
        var origin = http.Request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return;
        }

        var allowed = http.RequestServices.GetRequiredService<IOptions<DeliveryOptions>>().Value.AllowedOrigins;
        if (allowed.Contains("*"))
        {
            http.Response.Headers.AccessControlAllowOrigin = "*";
        }
        else if (allowed.Any(a => string.Equals(a.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase)))
        {
            http.Response.Headers.AccessControlAllowOrigin = origin;
            http.Response.Headers.Vary = "Origin";
        }
        else
        {
            return;
        }

        http.Response.Headers.AccessControlExposeHeaders = "Content-Length, Content-Range";
        // Segments may be read by the allowed player's page (the platform sets COOP, not CORP, but say it plainly).
        http.Response.Headers["Cross-Origin-Resource-Policy"] = "cross-origin";
    }

    private static ProblemHttpResult Refused() =>
        TypedResults.Problem(title: "Playback URL not valid", detail: "The link is wrong, has expired, or its session has ended; start playback again.", statusCode: StatusCodes.Status403Forbidden);

    private static IResult Playlist(HttpContext http, string text)
    {
        http.Response.Headers.CacheControl = "private, no-store";
        return TypedResults.Text(text, "application/vnd.apple.mpegurl", System.Text.Encoding.UTF8);
    }

    private static string KeyUrl(LinkGenerator links, HttpContext http, string token) =>
        links.GetPathByName(http, KeyRoute, new { token }) ?? throw new InvalidOperationException("The key route is not mapped.");

    private static SessionStarted Describe(SessionGrant grant, LinkGenerator links, HttpContext http) => new(
        grant.SessionId,
        links.GetPathByName(http, MasterRoute, new { token = grant.Token })!,
        grant.ExpiresAt,
        links.GetPathByName(http, HeartbeatRoute, new { id = grant.SessionId })!,
        grant.MaxHeight,
        grant.ResumeAt,
        grant.HasThumbnails ? links.GetPathByName(http, FileRoute, new { token = grant.Token, path = PackagedTitle.ThumbnailTrack }) : null,
        grant.WithAds);
}

/// <summary>The body of <c>POST /api/playback/sessions</c>.</summary>
internal sealed record StartPlayback([property: Required] Guid? TitleId);

/// <summary>The body of a heartbeat or an end: where the player is, in seconds (<c>positionSeconds</c>, or <c>position</c> as the watch page sends it).</summary>
internal sealed record Heartbeat([property: Range(0, 1_000_000)] double? PositionSeconds = null, [property: Range(0, 1_000_000)] double? Position = null)
{
    public double? Seconds => PositionSeconds ?? Position;
}

/// <summary>A started or renewed session: the manifest URL (token inside) and when the token expires.</summary>
/// <param name="ThumbnailsUrl">The WebVTT thumbnail track for scrubbing (beside the manifest, same token), or null when the package has none.</param>
/// <param name="WithAds">The session plays with ads (the viewer's plan has ads); there is no ad server yet, so the player only says so.</param>
internal sealed record SessionStarted(Guid SessionId, string ManifestUrl, DateTimeOffset ExpiresAt, string HeartbeatUrl, int? MaxHeight, double? ResumeAt,
    string? ThumbnailsUrl = null, bool WithAds = false);

/// <summary>A session as its viewer may see it.</summary>
internal sealed record SessionState(Guid SessionId, Guid TitleId, bool Live, DateTimeOffset CreatedAt, DateTimeOffset LastHeartbeatAt,
    double? PositionSeconds, int? MaxHeight, DateTimeOffset? EndedAt, string? EndReason, bool WithAds = false);
