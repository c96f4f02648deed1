using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Marquee.Identity.Data;
using Marquee.Platform.Data;
using Marquee.Platform.Web;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Marquee.Identity.Oidc;

/// <summary>
/// Marquee as an OpenID Connect provider, through OpenIddict: discovery, authorization code with PKCE (S256 only,
/// required for every code grant), refresh tokens (rotated on every use; a reused one revokes the whole
/// authorization), the device authorization grant (RFC 8628) with <c>slow_down</c>, user info and end session.
/// The authorize endpoint signs people in with the site's own cookie (<c>/signin</c>); the device page is <c>/device</c>.
/// </summary>
internal static class OidcServer
{
    public const string Scheme = OpenIddictServerAspNetCoreDefaults.AuthenticationScheme;

    public static IServiceCollection AddOidcProvider(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddModuleDb<OidcDb, SqliteOidcDb, PostgresOidcDb>(configuration);
        services.AddOptions<OidcOptions>().Bind(configuration.GetSection(OidcOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        var o = configuration.GetSection(OidcOptions.Section).Get<OidcOptions>() ?? new OidcOptions();
        services.AddSingleton<DevicePollPacing>();
        services.AddScoped<ClientApps>();
        services.AddConsoleLink("Identity", "Client apps", "/console/identity/apps");

        services.AddOpenIddict()
            .AddCore(core => core.UseEntityFrameworkCore().UseDbContext<OidcDb>())
            .AddServer(server =>
            {
                server.SetAuthorizationEndpointUris("connect/authorize")
                    .SetTokenEndpointUris("connect/token")
                    .SetUserInfoEndpointUris("connect/userinfo")
                    .SetDeviceAuthorizationEndpointUris("connect/device")
                    .SetEndUserVerificationEndpointUris("connect/verify")
                    .SetEndSessionEndpointUris("connect/logout")
                    .SetRevocationEndpointUris("connect/revoke");
                server.AllowAuthorizationCodeFlow()
                    .AllowRefreshTokenFlow()
                    .AllowDeviceAuthorizationFlow()
                    .RequireProofKeyForCodeExchange();
                server.RegisterScopes(Scopes.OpenId, Scopes.Email, Scopes.Profile, Scopes.Roles, Scopes.OfflineAccess);
                server.SetAuthorizationCodeLifetime(o.AuthorizationCodeLifetime)
                    .SetAccessTokenLifetime(o.AccessTokenLifetime)
                    .SetRefreshTokenLifetime(o.RefreshTokenLifetime)
                    .SetDeviceCodeLifetime(o.DeviceCodeLifetime)
                    .SetUserCodeLifetime(o.DeviceCodeLifetime)
                    // A refresh token works once: no grace period for concurrent use, so any reuse revokes the family.
                    .SetRefreshTokenReuseLeeway(TimeSpan.Zero);
                // PKCE with S256 only: 'plain' is refused with invalid_request.
                server.Configure(x => x.CodeChallengeMethods.Remove(CodeChallengeMethods.Plain));

                if (o.SigningCertificatePath is { Length: > 0 } signing)
                {
                    server.AddSigningCertificate(X509CertificateLoader.LoadPkcs12FromFile(signing, o.SigningCertificatePassword));
                }
                else
                {
                    server.AddDevelopmentSigningCertificate();
                }

                if (o.EncryptionCertificatePath is { Length: > 0 } encryption)
                {
                    server.AddEncryptionCertificate(X509CertificateLoader.LoadPkcs12FromFile(encryption, o.EncryptionCertificatePassword));
                }
                else
                {
                    server.AddDevelopmentEncryptionCertificate();
                }

                var aspNet = server.UseAspNetCore()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableTokenEndpointPassthrough()
                    .EnableUserInfoEndpointPassthrough()
                    .EnableEndUserVerificationEndpointPassthrough()
                    .EnableEndSessionEndpointPassthrough();
                if (o.AllowHttp)
                {
                    aspNet.DisableTransportSecurityRequirement();
                }

                server.AddEventHandler<OpenIddictServerEvents.ValidateTokenRequestContext>(b => b
                    .UseSingletonHandler<DevicePollPacing>()
                    .SetOrder(int.MinValue + 100_000)
                    .SetType(OpenIddictServerHandlerType.Custom));
                server.AddEventHandler<OpenIddictServerEvents.ApplyDeviceAuthorizationResponseContext>(b => b
                    .UseInlineHandler(context =>
                    {
                        if (string.IsNullOrEmpty(context.Error))
                        {
                            context.Response[Parameters.Interval] = (long)o.DevicePollInterval.TotalSeconds;
                        }

                        return default;
                    })
                    .SetType(OpenIddictServerHandlerType.Custom));
            });
        return services;
    }

    public static void MapOidcProvider(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMethods("/connect/authorize", [HttpMethods.Get, HttpMethods.Post], AuthorizeAsync)
            .AllowAnonymous().DisableAntiforgery().ExcludeFromDescription();
        endpoints.MapPost("/connect/token", TokenAsync)
            .AllowAnonymous().DisableAntiforgery().ExcludeFromDescription();
        endpoints.MapMethods("/connect/userinfo", [HttpMethods.Get, HttpMethods.Post], UserInfoAsync)
            .AllowAnonymous().DisableAntiforgery().ExcludeFromDescription();
        endpoints.MapMethods("/connect/logout", [HttpMethods.Get, HttpMethods.Post], EndSessionAsync)
            .AllowAnonymous().DisableAntiforgery().ExcludeFromDescription();
        // People open the verification URI the device shows: the page that asks for the code.
        endpoints.MapGet("/connect/verify", (HttpContext http) =>
                Results.Redirect(http.Request.Query.TryGetValue(Parameters.UserCode, out var code) && code.ToString() is { Length: > 0 and <= 64 } c
                    ? "/device?user_code=" + Uri.EscapeDataString(c)
                    : "/device"))
            .AllowAnonymous().ExcludeFromDescription();
        // The /consent page's form: a signed-in viewer allows or denies a third-party app (antiforgery checked).
        endpoints.MapPost("/connect/consent", ConsentAsync)
            .RequireAuthorization()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .WithMetadata(new Microsoft.AspNetCore.Antiforgery.RequireAntiforgeryTokenAttribute())
            .ExcludeFromDescription();
        // The /device page's form: a signed-in viewer approves or denies a user code (antiforgery checked, rate-limited per IP).
        endpoints.MapPost("/connect/verify", VerifyAsync)
            .RequireAuthorization()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .WithMetadata(new Microsoft.AspNetCore.Antiforgery.RequireAntiforgeryTokenAttribute())
            .ExcludeFromDescription();
    }

    private static async Task<IResult> AuthorizeAsync(HttpContext http, UserManager<Account> users, IOpenIddictApplicationManager applications, IOpenIddictAuthorizationManager authorizations)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenID Connect request.");
        var cookie = await http.AuthenticateAsync(IdentityConstants.ApplicationScheme);
        var account = cookie.Succeeded ? await users.GetUserAsync(cookie.Principal) : null;
        if (account is null)
        {
            if (request.HasPromptValue(PromptValues.None))
            {
                return Refuse(Errors.LoginRequired, "The user is not signed in.");
            }

            // Sign in with the site's cookie (/signin?ReturnUrl=...), then come back with the same parameters, through
            // /signin/continue: its refresh is a new navigation, so the sign-in form's CSP form-action does not apply
            // to the redirect on to the app's origin.
            var parameters = http.Request.HasFormContentType ? [.. http.Request.Form] : http.Request.Query.ToList();
            var back = http.Request.PathBase + http.Request.Path + QueryString.Create(parameters);
            return Results.Challenge(new AuthenticationProperties { RedirectUri = "/signin/continue?returnUrl=" + Uri.EscapeDataString(back) },
                [IdentityConstants.ApplicationScheme]);
        }

        var application = await applications.FindByClientIdAsync(request.ClientId!) ?? throw new InvalidOperationException("The client was validated by OpenIddict.");
        var applicationId = (await applications.GetIdAsync(application))!;
        var identity = await IdentityOfAsync(account, users, request.GetScopes());
        if (await applications.HasConsentTypeAsync(application, ConsentTypes.Explicit))
        {
            // A third-party app: the viewer's remembered "allow" (a permanent authorization covering these scopes, made by
            // the consent form), else the consent screen; a "deny" from that screen comes back as access_denied.
            if (http.Request.Query.ContainsKey(ConsentDenied) || (http.Request.HasFormContentType && http.Request.Form.ContainsKey(ConsentDenied)))
            {
                return Refuse(Errors.AccessDenied, "The user did not allow this application.");
            }

            var remembered = request.HasPromptValue(PromptValues.Consent) ? null
                : await FirstAsync(authorizations.FindAsync(account.Id.ToString(), applicationId, Statuses.Valid, AuthorizationTypes.Permanent, request.GetScopes()));
            if (remembered is null)
            {
                if (request.HasPromptValue(PromptValues.None))
                {
                    return Refuse(Errors.ConsentRequired, "The user has not allowed this application yet.");
                }

                var parameters = (http.Request.HasFormContentType ? [.. http.Request.Form] : http.Request.Query.ToList())
                    .Where(p => p.Key is not Parameters.Prompt);
                return Results.Redirect("/consent" + QueryString.Create(parameters));
            }

            identity.SetAuthorizationId(await authorizations.GetIdAsync(remembered));
            identity.SetDestinations(DestinationsOf);
            return Results.SignIn(new ClaimsPrincipal(identity), properties: null, Scheme);
        }

        // A first-party app (consent type implicit, the default): no consent screen.
        var authorization = await authorizations.CreateAsync(identity, account.Id.ToString(), applicationId,
            AuthorizationTypes.AdHoc, identity.GetScopes());
        identity.SetAuthorizationId(await authorizations.GetIdAsync(authorization));
        identity.SetDestinations(DestinationsOf);
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, Scheme);
    }

    /// <summary>The marker the consent form's "Deny" adds to the authorize request it sends the browser back to.</summary>
    public const string ConsentDenied = "marquee_consent_denied";

    private static async Task<object?> FirstAsync(IAsyncEnumerable<object> items)
    {
        await foreach (var item in items)
        {
            return item;
        }

        return null;
    }

    /// <summary>
    /// The consent page's form (antiforgery checked): "allow" stores a permanent authorization for the app and the scopes
    /// asked, so the next request skips the screen; either way the browser goes back to the authorize endpoint through
    /// <c>/signin/continue</c> (a new navigation: the form's CSP form-action does not reach the app's origin).
    /// </summary>
    private static async Task<IResult> ConsentAsync(HttpContext http, UserManager<Account> users, IOpenIddictApplicationManager applications,
        IOpenIddictAuthorizationManager authorizations)
    {
        if (http.Features.Get<Microsoft.AspNetCore.Antiforgery.IAntiforgeryValidationFeature>() is { IsValid: false })
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Form expired",
                detail: "The consent form's anti-forgery token is missing or invalid: open the app's sign-in again.");
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var parameters = form.Where(p => p.Key is not ("allow" or "deny" or "__RequestVerificationToken")).ToList();
        var back = "/connect/authorize" + QueryString.Create(parameters);
        if (await users.GetUserAsync(http.User) is not { } account
            || form[Parameters.ClientId].ToString() is not { Length: > 0 } clientId
            || await applications.FindByClientIdAsync(clientId) is not { } application)
        {
            return Results.Redirect("/");
        }

        if (form.ContainsKey("allow") && await applications.HasConsentTypeAsync(application, ConsentTypes.Explicit))
        {
            var scopes = form[Parameters.Scope].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Distinct(StringComparer.Ordinal).ToImmutableArray();
            var identity = await IdentityOfAsync(account, users, scopes);
            await authorizations.CreateAsync(identity, account.Id.ToString(), (await applications.GetIdAsync(application))!, AuthorizationTypes.Permanent, scopes);
        }
        else if (!form.ContainsKey("allow"))
        {
            back += (back.Contains('?', StringComparison.Ordinal) ? "&" : "?") + ConsentDenied + "=1";
        }

        return Results.Redirect("/signin/continue?returnUrl=" + Uri.EscapeDataString(back));
    }

    private static async Task<IResult> TokenAsync(HttpContext http, UserManager<Account> users, SignInManager<Account> signIn)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenID Connect request.");
        if (!request.IsAuthorizationCodeGrantType() && !request.IsRefreshTokenGrantType() && !request.IsDeviceCodeGrantType())
        {
            return Refuse(Errors.UnsupportedGrantType, "This grant type is not supported.");
        }

        // The code, refresh token or device code was validated by OpenIddict; check the account may still sign in.
        var result = await http.AuthenticateAsync(Scheme);
        var account = result.Principal?.GetClaim(Claims.Subject) is { } subject ? await users.FindByIdAsync(subject) : null;
        if (account is null || !await signIn.CanSignInAsync(account) || await users.IsLockedOutAsync(account))
        {
            return Refuse(Errors.InvalidGrant, "The account can no longer sign in.");
        }

        var identity = await IdentityOfAsync(account, users, result.Principal!.GetScopes());
        identity.SetAuthorizationId(result.Principal!.GetAuthorizationId());
        identity.SetDestinations(DestinationsOf);
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, Scheme);
    }

    private static async Task<IResult> UserInfoAsync(HttpContext http, UserManager<Account> users)
    {
        var result = await http.AuthenticateAsync(Scheme);
        var account = result.Principal?.GetClaim(Claims.Subject) is { } subject ? await users.FindByIdAsync(subject) : null;
        if (account is null)
        {
            return Results.Challenge(new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.InvalidToken,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = "The access token is not valid for an account.",
            }), [Scheme]);
        }

        var principal = result.Principal!;
        var claims = new Dictionary<string, object>(StringComparer.Ordinal) { [Claims.Subject] = account.Id.ToString() };
        if (principal.HasScope(Scopes.Email))
        {
            claims[Claims.Email] = account.Email!;
            claims[Claims.EmailVerified] = account.EmailConfirmed;
        }

        if (principal.HasScope(Scopes.Profile))
        {
            claims[Claims.Name] = account.Email!;
            claims[Claims.PreferredUsername] = account.Email!;
        }

        if (principal.HasScope(Scopes.Roles))
        {
            claims[Claims.Role] = (await users.GetRolesAsync(account)).Order(StringComparer.Ordinal).ToArray();
        }

        return Results.Ok(claims);
    }

    private static async Task<IResult> EndSessionAsync(SignInManager<Account> signIn)
    {
        await signIn.SignOutAsync();
        return Results.SignOut(new AuthenticationProperties { RedirectUri = "/" }, [Scheme]);
    }

    private static async Task<IResult> VerifyAsync(HttpContext http, UserManager<Account> users)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenID Connect request.");
        var account = await users.GetUserAsync(http.User);
        var result = await http.AuthenticateAsync(Scheme);
        if (account is null || !result.Succeeded || string.IsNullOrEmpty(result.Principal?.GetClaim(Claims.ClientId)))
        {
            return Results.Redirect("/device?invalid=1");
        }

        if (http.Request.Form.ContainsKey("deny"))
        {
            return Results.Forbid(new AuthenticationProperties { RedirectUri = "/device?denied=1" }, [Scheme]);
        }

        var identity = await IdentityOfAsync(account, users, result.Principal!.GetScopes());
        identity.SetDestinations(DestinationsOf);
        _ = request;
        return Results.SignIn(new ClaimsPrincipal(identity), new AuthenticationProperties { RedirectUri = "/device?approved=1" }, Scheme);
    }

    private static async Task<ClaimsIdentity> IdentityOfAsync(Account account, UserManager<Account> users, IEnumerable<string> scopes)
    {
        var identity = new ClaimsIdentity(Scheme, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, account.Id.ToString())
            .SetClaim(Claims.Email, account.Email)
            .SetClaim(Claims.EmailVerified, account.EmailConfirmed)
            .SetClaim(Claims.Name, account.Email)
            .SetClaim(Claims.PreferredUsername, account.Email)
            .SetClaims(Claims.Role, [.. await users.GetRolesAsync(account)]);
        identity.SetScopes(scopes);
        return identity;
    }

    /// <summary>Which token carries which claim: the subject everywhere; e-mail, name and roles by scope.</summary>
    private static IEnumerable<string> DestinationsOf(Claim claim)
    {
        var principal = claim.Subject!;
        string[] both = [OpenIddictConstants.Destinations.AccessToken, OpenIddictConstants.Destinations.IdentityToken];
        return claim.Type switch
        {
            Claims.Email or Claims.EmailVerified when principal.HasScope(Scopes.Email) => both,
            Claims.Name or Claims.PreferredUsername when principal.HasScope(Scopes.Profile) => both,
            Claims.Role when principal.HasScope(Scopes.Roles) => both,
            Claims.Subject => both,
            _ => [OpenIddictConstants.Destinations.AccessToken],
        };
    }

    private static IResult Refuse(string error, string description) =>
        Results.Forbid(new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        }), [Scheme]);
}

/// <summary>
/// RFC 8628 section 3.5: a device that polls the token endpoint faster than the interval gets <c>slow_down</c>.
/// Kept in memory per device code (hashed): on several web nodes each node paces the polls it sees.
/// </summary>
internal sealed class DevicePollPacing(IOptions<OidcOptions> options, TimeProvider clock) : IOpenIddictServerHandler<OpenIddictServerEvents.ValidateTokenRequestContext>
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> lastPoll = new(StringComparer.Ordinal);

    public ValueTask HandleAsync(OpenIddictServerEvents.ValidateTokenRequestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.Request.IsDeviceCodeGrantType() || context.Request.DeviceCode is not { Length: > 0 } code)
        {
            return default;
        }

        var now = clock.GetUtcNow();
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(code)));
        var tooFast = false;
        lastPoll.AddOrUpdate(key, now, (_, previous) =>
        {
            tooFast = now - previous < options.Value.DevicePollInterval;
            return now;
        });
        if (lastPoll.Count > 10_000)
        {
            foreach (var (k, at) in lastPoll)
            {
                if (now - at > options.Value.DeviceCodeLifetime)
                {
                    lastPoll.TryRemove(k, out _);
                }
            }
        }

        if (tooFast)
        {
            context.Reject(Errors.SlowDown, "Polling too fast: wait the interval between requests, and 5 seconds more from now on.");
        }

        return default;
    }
}
