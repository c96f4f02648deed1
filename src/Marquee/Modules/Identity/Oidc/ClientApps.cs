using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Marquee.Platform.Audit;
using Marquee.Platform.Web;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Marquee.Identity.Oidc;

/// <summary>A client application of the OpenID Connect provider as operators see it.</summary>
/// <param name="ConsentType"><c>implicit</c> (first party: no consent screen) or <c>explicit</c> (third party: the viewer allows or denies it once, remembered).</param>
internal sealed record ClientAppView(string ClientId, string DisplayName, string Type, string[] RedirectUris, string[] PostLogoutRedirectUris, string[] GrantTypes, string ConsentType);

/// <summary>
/// A new client application. <c>Type</c>: <c>public</c> (TV, mobile and single-page apps) or <c>confidential</c> (servers).
/// <c>ConsentType</c>: <c>implicit</c> (the default: a first-party app, no consent screen) or <c>explicit</c> (a third-party
/// app: viewers see a consent screen the first time).
/// </summary>
internal sealed record ClientAppInput(string? ClientId, string? DisplayName, string? Type, string[]? RedirectUris, string[]? PostLogoutRedirectUris, string[]? GrantTypes,
    string? ConsentType = null);

/// <summary>The registration answer: the secret of a confidential client is shown once, never stored in clear.</summary>
internal sealed record ClientAppCreated(ClientAppView App, string? ClientSecret);

/// <summary>Registers, lists and removes the provider's client applications (OpenIddict's application store); every change audited.</summary>
internal sealed partial class ClientApps(IOpenIddictApplicationManager manager, OidcDb db, TimeProvider clock)
{
    public static readonly string[] KnownGrantTypes = [GrantTypes.AuthorizationCode, GrantTypes.RefreshToken, GrantTypes.DeviceCode];

    public async Task<IReadOnlyList<ClientAppView>> ListAsync(CancellationToken cancellationToken)
    {
        var list = new List<ClientAppView>();
        await foreach (var app in manager.ListAsync(null, null, cancellationToken))
        {
            list.Add(await ViewAsync(app, cancellationToken));
        }

        return [.. list.OrderBy(a => a.ClientId, StringComparer.Ordinal)];
    }

    public static Dictionary<string, string[]> Check(ClientAppInput input)
    {
        var errors = new Dictionary<string, string[]>();
        if (input.ClientId is null || !ClientIdPattern().IsMatch(input.ClientId))
        {
            errors["clientId"] = ["3 to 100 characters: lower-case letters, digits, '-', '_' and '.'."];
        }

        if (input.DisplayName is { Length: > 200 })
        {
            errors["displayName"] = ["At most 200 characters."];
        }

        if (input.Type is not (ClientTypes.Public or ClientTypes.Confidential))
        {
            errors["type"] = ["'public' or 'confidential'."];
        }

        if (input.ConsentType is not (null or ConsentTypes.Implicit or ConsentTypes.Explicit))
        {
            errors["consentType"] = ["'implicit' (first party, no consent screen) or 'explicit' (third party, viewers consent once)."];
        }

        var grants = input.GrantTypes ?? [];
        if (grants.Length == 0 || grants.Any(g => !KnownGrantTypes.Contains(g)) || grants.Distinct(StringComparer.Ordinal).Count() != grants.Length)
        {
            errors["grantTypes"] = [$"One or more of {string.Join(", ", KnownGrantTypes)}, each once."];
        }
        else if (grants.Contains(GrantTypes.RefreshToken) && !grants.Contains(GrantTypes.AuthorizationCode) && !grants.Contains(GrantTypes.DeviceCode))
        {
            errors["grantTypes"] = ["refresh_token goes with authorization_code or device_code."];
        }

        var redirects = input.RedirectUris ?? [];
        if (grants.Contains(GrantTypes.AuthorizationCode) && redirects.Length == 0)
        {
            errors["redirectUris"] = ["The authorization code grant needs at least one redirect URI."];
        }

        foreach (var (field, uris) in new[] { ("redirectUris", redirects), ("postLogoutRedirectUris", input.PostLogoutRedirectUris ?? []) })
        {
            if (uris.Length > 20 || uris.Any(u => RedirectProblem(u) is not null))
            {
                errors[field] = [uris.Select(RedirectProblem).FirstOrDefault(p => p is not null) ?? "At most 20 URIs."];
            }
        }

        return errors;
    }

    /// <summary>Why a redirect URI is refused: not absolute, a fragment, or plain HTTP to anything but loopback.</summary>
    private static string? RedirectProblem(string? uri)
    {
        if (uri is null || uri.Length > 2000 || !Uri.TryCreate(uri, UriKind.Absolute, out var u))
        {
            return $"'{uri}' is not an absolute URI.";
        }

        if (u.Fragment.Length > 0)
        {
            return $"'{uri}' has a fragment.";
        }

        if (u.Scheme == Uri.UriSchemeHttp && !u.IsLoopback)
        {
            return $"'{uri}': plain http only for loopback addresses (native apps); use https.";
        }

        return u.Scheme is "javascript" or "data" or "file" ? $"'{uri}': that scheme is not allowed." : null;
    }

    /// <summary>Creates a client; null when the client id is taken. Call after <see cref="Check"/> found nothing.</summary>
    public async Task<ClientAppCreated?> CreateAsync(ClientAppInput input, RequestActor actor, CancellationToken cancellationToken)
    {
        if (await manager.FindByClientIdAsync(input.ClientId!, cancellationToken) is not null)
        {
            return null;
        }

        var grants = input.GrantTypes!;
        var secret = input.Type == ClientTypes.Confidential ? Base64Url(RandomNumberGenerator.GetBytes(32)) : null;
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = input.ClientId,
            ClientSecret = secret,
            ClientType = input.Type,
            ConsentType = input.ConsentType ?? ConsentTypes.Implicit,
            DisplayName = string.IsNullOrWhiteSpace(input.DisplayName) ? input.ClientId : input.DisplayName.Trim(),
            ApplicationType = input.Type == ClientTypes.Confidential ? ApplicationTypes.Web : ApplicationTypes.Native,
        };
        foreach (var uri in input.RedirectUris ?? [])
        {
            descriptor.RedirectUris.Add(new Uri(uri));
        }

        foreach (var uri in input.PostLogoutRedirectUris ?? [])
        {
            descriptor.PostLogoutRedirectUris.Add(new Uri(uri));
        }

        descriptor.Permissions.UnionWith([Permissions.Endpoints.Token, Permissions.Endpoints.Revocation, Permissions.Scopes.Email, Permissions.Scopes.Profile, Permissions.Scopes.Roles]);
        if (grants.Contains(GrantTypes.AuthorizationCode))
        {
            descriptor.Permissions.UnionWith([Permissions.Endpoints.Authorization, Permissions.Endpoints.EndSession, Permissions.GrantTypes.AuthorizationCode, Permissions.ResponseTypes.Code]);
            descriptor.Requirements.Add(Requirements.Features.ProofKeyForCodeExchange);
        }

        if (grants.Contains(GrantTypes.RefreshToken))
        {
            descriptor.Permissions.Add(Permissions.GrantTypes.RefreshToken);
        }

        if (grants.Contains(GrantTypes.DeviceCode))
        {
            descriptor.Permissions.UnionWith([Permissions.Endpoints.DeviceAuthorization, Permissions.GrantTypes.DeviceCode]);
        }

        // The audit line goes out through this context's outbox, committed with the application by OpenIddict's SaveChanges.
        db.Publish(new AuditRequested(new AuditRecord(actor.Name, "identity.client-app-created", $"client-app:{input.ClientId}", actor.From,
            $"{input.Type}; consent {input.ConsentType ?? ConsentTypes.Implicit}; grants {string.Join(" ", grants)}; redirects {string.Join(" ", input.RedirectUris ?? [])}"), clock.GetUtcNow()));
        var app = await manager.CreateAsync(descriptor, cancellationToken);
        return new ClientAppCreated(await ViewAsync(app, cancellationToken), secret);
    }

    /// <summary>Removes a client with its authorizations and tokens; false when there is none.</summary>
    public async Task<bool> DeleteAsync(string clientId, RequestActor actor, CancellationToken cancellationToken)
    {
        if (await manager.FindByClientIdAsync(clientId, cancellationToken) is not { } app)
        {
            return false;
        }

        db.Publish(new AuditRequested(new AuditRecord(actor.Name, "identity.client-app-deleted", $"client-app:{clientId}", actor.From), clock.GetUtcNow()));
        await manager.DeleteAsync(app, cancellationToken);
        return true;
    }

    private async Task<ClientAppView> ViewAsync(object app, CancellationToken cancellationToken)
    {
        var permissions = await manager.GetPermissionsAsync(app, cancellationToken);
        var grants = KnownGrantTypes.Where(g => permissions.Contains(Permissions.Prefixes.GrantType + g)).ToArray();
        return new ClientAppView(
            (await manager.GetClientIdAsync(app, cancellationToken))!,
            await manager.GetDisplayNameAsync(app, cancellationToken) ?? "",
            await manager.GetClientTypeAsync(app, cancellationToken) ?? "",
            [.. (await manager.GetRedirectUrisAsync(app, cancellationToken)).Order(StringComparer.Ordinal)],
            [.. (await manager.GetPostLogoutRedirectUrisAsync(app, cancellationToken)).Order(StringComparer.Ordinal)],
            grants,
            await manager.GetConsentTypeAsync(app, cancellationToken) ?? ConsentTypes.Implicit);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{2,99}$")]
    private static partial Regex ClientIdPattern();
}
