using System.Security.Claims;
using Marquee.Identity.Contracts;
using Marquee.Identity.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.WebUtilities;

namespace Marquee.Identity;

/// <summary>
/// Passkeys through ASP.NET Core Identity's WebAuthn support (no WebAuthn code of our own): several per account, each
/// named, renamed and removed by its holder; a passkey alone signs in (it is a possession and a user-verification factor).
/// </summary>
internal sealed class Passkeys(UserManager<Account> users, SignInManager<Account> signIn, SignInFlow flow)
{
    public const string Refused = "That passkey did not sign you in. Try again, or sign in with your password.";

    public const int MaxNameLength = 50;

    public async Task<(bool Added, string? Id, string? Problem)> AddAsync(ClaimsPrincipal principal, string? credential, string? name)
    {
        var user = await users.GetUserAsync(principal);
        if (user is null || string.IsNullOrWhiteSpace(credential))
        {
            return (false, null, "No passkey was given.");
        }

        var attestation = await signIn.PerformPasskeyAttestationAsync(credential);
        if (!attestation.Succeeded)
        {
            return (false, null, "The passkey could not be verified: " + attestation.Failure.Message);
        }

        if (attestation.UserEntity.Id != user.Id.ToString())
        {
            return (false, null, "The passkey was made for another account.");
        }

        var passkey = attestation.Passkey;
        passkey.Name = CleanName(name) ?? $"Passkey {(await users.GetPasskeysAsync(user)).Count + 1}";
        var added = await users.AddOrUpdatePasskeyAsync(user, passkey);
        if (!added.Succeeded)
        {
            return (false, null, Accounts.Describe(added));
        }

        await flow.PublishAsync(user, SecurityEventKind.PasskeyAdded, passkey.Name);
        return (true, WebEncoders.Base64UrlEncode(passkey.CredentialId), null);
    }

    public async Task<List<PasskeyView>> ListAsync(ClaimsPrincipal principal)
    {
        var user = await users.GetUserAsync(principal);
        return user is null
            ? []
            : [.. (await users.GetPasskeysAsync(user)).OrderBy(p => p.CreatedAt).Select(p => new PasskeyView(WebEncoders.Base64UrlEncode(p.CredentialId), p.Name, p.CreatedAt))];
    }

    public async Task<bool> RenameAsync(ClaimsPrincipal principal, string id, string? name)
    {
        var user = await users.GetUserAsync(principal);
        if (user is null || Decode(id) is not { } credentialId || CleanName(name) is not { } clean || await users.GetPasskeyAsync(user, credentialId) is not { } passkey)
        {
            return false;
        }

        passkey.Name = clean;
        return (await users.AddOrUpdatePasskeyAsync(user, passkey)).Succeeded;
    }

    public async Task<bool> RemoveAsync(ClaimsPrincipal principal, string id)
    {
        var user = await users.GetUserAsync(principal);
        if (user is null || Decode(id) is not { } credentialId || await users.GetPasskeyAsync(user, credentialId) is not { } passkey)
        {
            return false;
        }

        if (!(await users.RemovePasskeyAsync(user, credentialId)).Succeeded)
        {
            return false;
        }

        await flow.PublishAsync(user, SecurityEventKind.PasskeyRemoved, passkey.Name);
        return true;
    }

    /// <summary>Signs in with a passkey alone (the request options came from <c>MakePasskeyRequestOptionsAsync</c> in this browser).</summary>
    public async Task<bool> SignInAsync(string? credential)
    {
        if (string.IsNullOrWhiteSpace(credential))
        {
            return false;
        }

        var assertion = await signIn.PerformPasskeyAssertionAsync(credential);
        if (!assertion.Succeeded || await users.IsLockedOutAsync(assertion.User))
        {
            return false;
        }

        // The new signature count (and backup state) goes with the passkey.
        await users.AddOrUpdatePasskeyAsync(assertion.User, assertion.Passkey);
        await flow.CompleteSignInAsync(assertion.User, "passkey");
        return true;
    }

    private static string? CleanName(string? name) =>
        name?.Trim() is { Length: > 0 } n ? n[..Math.Min(n.Length, MaxNameLength)] : null;

    private static byte[]? Decode(string id)
    {
        try
        {
            return WebEncoders.Base64UrlDecode(id);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
