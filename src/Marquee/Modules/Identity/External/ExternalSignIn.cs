using System.Security.Claims;
using System.Text.RegularExpressions;
using Marquee.Identity.Contracts;
using Marquee.Identity.Data;
using Marquee.Platform;
using Marquee.Platform.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Marquee.Identity.External;

/// <summary>One external OpenID Connect provider, <c>Marquee:Identity:External:{Name}</c>.</summary>
internal sealed class ExternalProviderOptions
{
    public const string Section = "Marquee:Identity:External";

    /// <summary>The issuer URL; its discovery document is read from <c>{Authority}/.well-known/openid-configuration</c>.</summary>
    public string? Authority { get; set; }

    public string? ClientId { get; set; }

    /// <summary>The client secret registered with the provider (keep it out of appsettings: environment or secret store).</summary>
    public string? ClientSecret { get; set; }

    /// <summary>The button text's provider name; default the configuration key.</summary>
    public string? DisplayName { get; set; }

    /// <summary>Only for a provider on loopback in development and tests: allow its metadata over plain HTTP.</summary>
    public bool AllowHttp { get; set; }

    /// <summary>
    /// How long a request to the provider (metadata, keys, token, userinfo) may take. Default 10 s (ASP.NET Core's is 60 s):
    /// an unreachable provider's button answers "cannot be reached" within this time.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>A configured provider as the sign-in page shows it.</summary>
internal sealed record ExternalProvider(string Name, string DisplayName)
{
    public string Scheme => ExternalSignIn.SchemePrefix + Name.ToLowerInvariant();
}

/// <summary>The configured external providers (singleton).</summary>
internal sealed record ExternalProviders(IReadOnlyList<ExternalProvider> All);

/// <summary>
/// Sign-in with an operator-configured OpenID Connect provider (SSO), through ASP.NET Core's OpenID Connect handler
/// (code flow with PKCE, response mode query). The provider's subject is linked to a Marquee account: an existing
/// link signs that account in; else an account with the same e-mail is linked when the provider says the e-mail is
/// verified; else a new viewer account is created. An unverified e-mail without a link is refused.
/// </summary>
internal static partial class ExternalSignIn
{
    public const string SchemePrefix = "oidc-";

    public static IServiceCollection AddExternalSignIn(this IServiceCollection services, IConfiguration configuration)
    {
        var providers = new List<ExternalProvider>();
        var authentication = services.AddAuthentication();
        foreach (var section in configuration.GetSection(ExternalProviderOptions.Section).GetChildren())
        {
            var o = section.Get<ExternalProviderOptions>() ?? new ExternalProviderOptions();
            if (!NamePattern().IsMatch(section.Key) || string.IsNullOrEmpty(o.Authority) || string.IsNullOrEmpty(o.ClientId))
            {
                throw new StartupException($"{ExternalProviderOptions.Section}:{section.Key}: the name must be letters, digits and '-', and Authority and ClientId are required.");
            }

            var provider = new ExternalProvider(section.Key, o.DisplayName ?? section.Key);
            providers.Add(provider);
            authentication.AddOpenIdConnect(provider.Scheme, provider.DisplayName, oidc =>
            {
                oidc.Authority = o.Authority;
                oidc.ClientId = o.ClientId;
                oidc.ClientSecret = o.ClientSecret;
                oidc.ResponseType = "code";
                oidc.ResponseMode = "query";
                oidc.UsePkce = true;
                oidc.CallbackPath = "/signin-oidc-" + provider.Name.ToLowerInvariant();
                oidc.SignInScheme = IdentityConstants.ExternalScheme;
                oidc.MapInboundClaims = false;
                oidc.GetClaimsFromUserInfoEndpoint = true;
                oidc.SaveTokens = false;
                oidc.RequireHttpsMetadata = !o.AllowHttp;
                oidc.BackchannelTimeout = o.Timeout > TimeSpan.Zero ? o.Timeout : TimeSpan.FromSeconds(10);
                oidc.Scope.Clear();
                foreach (var scope in new[] { "openid", "email", "profile" })
                {
                    oidc.Scope.Add(scope);
                }
            });
        }

        // The provider's metadata, keys, token and userinfo requests go through the SSRF guard (R15).
        foreach (var provider in providers)
        {
            services.AddOptions<OpenIdConnectOptions>(provider.Scheme)
                .Configure<OutboundHttp>((oidc, outbound) => oidc.BackchannelHttpHandler = outbound.CreateHandler());
        }

        services.AddSingleton(new ExternalProviders(providers));
        return services;
    }

    public static void MapExternalSignIn(this IEndpointRouteBuilder endpoints)
    {
        // The sign-in page's button: a form post (antiforgery checked), then off to the provider.
        // The provider's metadata is read first (cached by the handler): an unreachable or broken provider sends the
        // browser back to the sign-in page with a message, within the provider's Timeout, instead of a 500 (R27).
        endpoints.MapPost("/signin/external/{name}", async (string name, [FromForm] string? returnUrl, ExternalProviders providers,
                IOptionsMonitor<OpenIdConnectOptions> oidc, ILoggerFactory logs, CancellationToken ct) =>
            {
                if (providers.All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) is not { } provider)
                {
                    return Results.NotFound();
                }

                try
                {
                    if (oidc.Get(provider.Scheme).ConfigurationManager is { } metadata)
                    {
                        await metadata.GetConfigurationAsync(ct);
                    }
                }
                catch (Exception ex) when (ex is InvalidOperationException or HttpRequestException or IOException
                                           || (ex is OperationCanceledException && !ct.IsCancellationRequested))
                {
                    logs.CreateLogger(typeof(ExternalSignIn)).LogWarning(ex, "External sign-in provider {Provider} unreachable", provider.Name);
                    return Results.Redirect("/signin?external=unavailable");
                }

                return Results.Challenge(new AuthenticationProperties
                {
                    RedirectUri = $"/signin/external/{Uri.EscapeDataString(provider.Name)}/done?returnUrl={Uri.EscapeDataString(LocalUrl.Or(returnUrl, "/"))}",
                }, [provider.Scheme]);
            })
            .AllowAnonymous()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .ExcludeFromDescription();

        endpoints.MapGet("/signin/external/{name}/done", CompleteAsync)
            .AllowAnonymous()
            .RequireRateLimiting(IdentityModule.RateLimitPolicy)
            .ExcludeFromDescription();
    }

    private static async Task<IResult> CompleteAsync(
        string name, string? returnUrl, HttpContext http, ExternalProviders providers, UserManager<Account> users,
        SignInManager<Account> signIn, SignInFlow flow, Accounts accounts, IdentityDb db, TimeProvider clock)
    {
        var provider = providers.All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
        var external = await http.AuthenticateAsync(IdentityConstants.ExternalScheme);
        await http.SignOutAsync(IdentityConstants.ExternalScheme);
        var principal = external.Principal;
        var subject = principal?.FindFirstValue("sub");
        if (provider is null || !external.Succeeded || principal is null || string.IsNullOrEmpty(subject))
        {
            return Results.Redirect("/signin?external=failed");
        }

        var email = principal.FindFirstValue("email")?.Trim();
        var verified = string.Equals(principal.FindFirstValue("email_verified"), "true", StringComparison.OrdinalIgnoreCase);
        var account = await users.FindByLoginAsync(provider.Name, subject);
        if (account is null)
        {
            if (!verified || email is not { Length: > 0 and <= 256 } || !new System.ComponentModel.DataAnnotations.EmailAddressAttribute().IsValid(email))
            {
                return Results.Redirect("/signin?external=unverified");
            }

            account = await users.FindByEmailAsync(email);
            if (account is null)
            {
                await accounts.EnsureRolesAsync(http.RequestAborted);
                account = accounts.NewAccount(email);
                db.Publish(new SecurityEvent(account.Id, SecurityEventKind.AccountCreated, email, http.Connection.RemoteIpAddress?.ToString(), clock.GetUtcNow(), $"via {provider.Name}"));
                if (!(await users.CreateAsync(account)).Succeeded)
                {
                    return Results.Redirect("/signin?external=failed");
                }

                await users.AddToRoleAsync(account, Roles.Viewer);
            }

            if (!(await users.AddLoginAsync(account, new UserLoginInfo(provider.Name, subject, provider.DisplayName))).Succeeded)
            {
                return Results.Redirect("/signin?external=failed");
            }
        }

        if (!await signIn.CanSignInAsync(account) || await users.IsLockedOutAsync(account))
        {
            return Results.Redirect("/signin?external=failed");
        }

        await signIn.SignInAsync(account, isPersistent: false, authenticationMethod: provider.Scheme);
        await flow.SignedInAsync(account);
        return Results.LocalRedirect(LocalUrl.Or(returnUrl, "/"));
    }

    [GeneratedRegex("^[A-Za-z0-9-]{1,40}$")]
    private static partial Regex NamePattern();
}
